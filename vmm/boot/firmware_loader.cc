#include "vmm/boot/firmware_loader.h"

#include <algorithm>

#include <fmt/format.h>

#include "vmm/boot/guest_ranges.h"

namespace kvpc {
namespace {

constexpr uint16_t kResetCodeSelector = 0xF000;
// After reset the CS base is 0xFFFF0000, not selector << 4: the one time real mode's
// base and selector disagree, so the first instruction comes from the top of 4 GiB.
constexpr uint64_t kResetCodeBase = 0xFFFF0000;
constexpr uint64_t kResetInstructionPointer = 0xFFF0;

}  // namespace

Result<CpuEntryState> load_firmware(std::span<const uint8_t> image, GuestMemory& memory) {
  uint64_t size = image.size();
  if (size == 0) return make_error("firmware image is empty");
  if (size % kFirmwareSizeUnit != 0) {
    return make_error(fmt::format("firmware image is {} bytes, not a multiple of 64 KiB ({} bytes)", size,
                                  kFirmwareSizeUnit));
  }
  if (size > kFirmwareMaxBytes) {
    return make_error(fmt::format("firmware image is {} bytes, more than the {} MiB kvpc maps", size,
                                  kFirmwareMaxBytes >> 20));
  }
  uint64_t low_copy = std::min(size, kFirmwareLowCopyBytes);
  uint64_t low_copy_address = kFirmwareLowCopyEnd - low_copy;
  if (!boot::is_guest_ram(memory, low_copy_address, low_copy)) {
    return make_error(fmt::format("guest RAM does not cover [{:#x}, {:#x}) for the firmware's low copy",
                                  low_copy_address, kFirmwareLowCopyEnd));
  }

  uint64_t rom_address = GuestMemory::k4GiB - size;
  auto rom = memory.add_region("firmware", rom_address, size, /*read_only=*/true);
  if (!rom) return make_error(fmt::format("cannot map the firmware at {:#x}: {}", rom_address, rom.error().message));
  if (!memory.write(rom_address, image, /*allow_rom=*/true) ||
      !memory.write(low_copy_address, image.subspan(size - low_copy))) {
    return make_error("internal error: cannot copy the firmware into guest memory");
  }

  CpuEntryState state;
  state.mode = CpuEntryState::Mode::kReal16;
  state.cs_selector = kResetCodeSelector;
  state.cs_base = kResetCodeBase;
  state.data_selector = 0;
  state.rip = kResetInstructionPointer;
  return state;
}

}  // namespace kvpc
