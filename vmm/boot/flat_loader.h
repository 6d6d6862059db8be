// Flat binaries: raw 16-bit code with no header, started the way kvmtool starts them.
#pragma once

#include <cstdint>
#include <span>

#include "vmm/cpu_entry_state.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr uint64_t kFlatLoadAddress = 0x10000;
inline constexpr uint16_t kFlatSegment = 0x1000;  // CS=DS=ES=SS, base 0x10000
inline constexpr uint64_t kFlatStackPointer = 0x8000;
// Conventional memory ends where VGA memory starts; an image must fit below it.
inline constexpr uint64_t kFlatLoadLimit = 0xA0000;

// Copies the image to 0x10000 and returns real mode at 1000:0000 with SP=0x8000. Rejects
// empty images and images that do not fit below 0xA0000 (576 KiB at most).
Result<CpuEntryState> load_flat(std::span<const uint8_t> image, GuestMemory& memory);

}  // namespace kvpc
