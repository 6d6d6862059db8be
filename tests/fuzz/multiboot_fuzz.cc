// Multiboot v1 kernels (ELF32 and the a.out kludge) with an optional module, loaded into a
// 16 MiB guest: header parsing, segment placement and the info area.
#include "tests/fuzz/loader_memory.h"
#include "vmm/boot/multiboot_header.h"
#include "vmm/boot/multiboot_loader.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t options = in.u8();
  std::string cmdline(in.text(options & 0x0F));
  std::vector<MultibootModule> modules;
  if (options & 0x10) modules.push_back({"module0 arg", in.chunk(16)});
  auto image = in.rest();
  (void)parse_multiboot_header(image);
  auto state = load_multiboot(image, cmdline, modules, fuzz::loader_memory());
  if (state) {
    KVPC_FUZZ_CHECK(state->mode == CpuEntryState::Mode::kProtected32);
    KVPC_FUZZ_CHECK(state->rax == kMultibootBootloaderMagic);
  } else {
    KVPC_FUZZ_CHECK(!state.error().message.empty());
  }
  return 0;
}
