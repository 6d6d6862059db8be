// The interpreter's instruction decoder on arbitrary bytes in 32- and 64-bit code: it must
// stay inside what it was given and never claim more than 15 bytes.
#include "tests/fuzz/fuzz_input.h"
#include "vmm/emu/decoder.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Decode at every offset, as a guest jumping into the middle of an instruction would.
  for (size_t start = 0; start < size && start < 64; ++start) {
    for (int bits : {32, 64}) {
      emu::Insn insn;
      size_t avail = size - start;
      auto status = emu::decode(data + start, avail, bits, insn);
      if (status == emu::DecodeStatus::kOk) {
        KVPC_FUZZ_CHECK(insn.len >= 1 && insn.len <= 15 && insn.len <= avail);
        KVPC_FUZZ_CHECK(insn.osz == 2 || insn.osz == 4 || insn.osz == 8);
        KVPC_FUZZ_CHECK(insn.asz == 4 || insn.asz == 8 || insn.asz == 2);
        KVPC_FUZZ_CHECK(insn.scale <= 3);
      }
      if (status == emu::DecodeStatus::kNeedMore) KVPC_FUZZ_CHECK(avail < 15);
    }
  }
  return 0;
}
