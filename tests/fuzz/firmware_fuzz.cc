// Firmware (--bios) images: sizes that are not whole 64 KiB units are refused; whole ones
// become a ROM below 4 GiB with its top copied under 1 MiB. Byte 0 bit 0 pads the rest of
// the input with 0xFF to a whole unit so the fuzzer reaches the loading path.
#include <vector>

#include "tests/fuzz/fuzz_input.h"
#include "vmm/boot/firmware_loader.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  bool pad = in.flag();
  auto body = in.rest();
  std::vector<uint8_t> image(body.begin(), body.end());
  if (pad) image.resize((image.size() / kFirmwareSizeUnit + 1) * kFirmwareSizeUnit, 0xFF);
  GuestMemory memory;
  KVPC_FUZZ_CHECK(memory.add_region("ram", 0, 1 << 20, false).ok());
  auto state = load_firmware(image, memory);
  bool valid = !image.empty() && image.size() % kFirmwareSizeUnit == 0 && image.size() <= kFirmwareMaxBytes;
  KVPC_FUZZ_CHECK(state.ok() == valid);
  if (state) {
    KVPC_FUZZ_CHECK(state->mode == CpuEntryState::Mode::kReal16);
    uint8_t top = 0;
    KVPC_FUZZ_CHECK(memory.read(GuestMemory::k4GiB - 1, std::span<uint8_t>(&top, 1)));
    KVPC_FUZZ_CHECK(top == image.back());
  }
  return 0;
}
