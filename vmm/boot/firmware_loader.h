// Firmware images (--bios): a ROM at the top of the 32-bit address space, started at the
// x86 reset vector like a real PC.
#pragma once

#include <cstdint>
#include <span>

#include "vmm/cpu_entry_state.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr uint64_t kFirmwareSizeUnit = 64 * 1024;
inline constexpr uint64_t kFirmwareMaxBytes = 16 * 1024 * 1024;
// How much of the ROM's top is also copied below 1 MiB, where real-mode code sees it.
inline constexpr uint64_t kFirmwareLowCopyBytes = 128 * 1024;
inline constexpr uint64_t kFirmwareLowCopyEnd = 0x100000;

// Adds the read-only region "firmware" at 4 GiB - size holding the image, copies the last
// min(size, 128 KiB) to RAM ending at 1 MiB (0xE0000 for 128 KiB), and returns real mode
// at F000:FFF0 with CS base 0xFFFF0000: the first fetch is at 0xFFFFFFF0, in the ROM.
// The size must be a non-zero multiple of 64 KiB, at most 16 MiB.
Result<CpuEntryState> load_firmware(std::span<const uint8_t> image, GuestMemory& memory);

}  // namespace kvpc
