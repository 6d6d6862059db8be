// Flat binaries: anything that fits below 0xA0000 loads at 0x10000, the rest is refused.
#include "tests/fuzz/loader_memory.h"
#include "vmm/boot/flat_loader.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> image(data, size);
  auto state = load_flat(image, fuzz::loader_memory());
  bool fits = size > 0 && kFlatLoadAddress + size <= kFlatLoadLimit;
  KVPC_FUZZ_CHECK(state.ok() == fits);
  if (state) KVPC_FUZZ_CHECK(state->mode == CpuEntryState::Mode::kReal16);
  return 0;
}
