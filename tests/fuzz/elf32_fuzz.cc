// The ELF32 executable parser: whatever it accepts lies inside the file and below 4 GiB.
#include "tests/fuzz/fuzz_input.h"
#include "vmm/boot/elf32.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> image(data, size);
  auto elf = parse_elf32_executable(image);
  if (!elf) return 0;
  KVPC_FUZZ_CHECK(is_elf(image));
  KVPC_FUZZ_CHECK(!elf->segments.empty());
  for (const auto& segment : elf->segments) {
    KVPC_FUZZ_CHECK(segment.filesz <= segment.memsz);
    KVPC_FUZZ_CHECK(uint64_t{segment.offset} + segment.filesz <= size);
    KVPC_FUZZ_CHECK(uint64_t{segment.paddr} + segment.memsz <= (uint64_t{1} << 32));
  }
  return 0;
}
