// Questions loaders ask about guest-physical address ranges.
//
// Every address here comes from an image header, so the helpers do their arithmetic in a
// way that cannot wrap: a range is (start, size) and "end" is only computed after checking.
#pragma once

#include <cstdint>
#include <optional>

#include "vmm/guest_memory.h"

namespace kvpc::boot {

// start + size, or nullopt when it would pass 2^64.
constexpr std::optional<uint64_t> checked_end(uint64_t start, uint64_t size) {
  if (size > UINT64_MAX - start) return std::nullopt;
  return start + size;
}

// value rounded up to a multiple of `alignment` (a power of two), or nullopt on overflow.
constexpr std::optional<uint64_t> align_up(uint64_t value, uint64_t alignment) {
  uint64_t mask = alignment - 1;
  if (value > UINT64_MAX - mask) return std::nullopt;
  return (value + mask) & ~mask;
}

// True when [a, a+a_size) and [b, b+b_size) share a byte. Empty ranges overlap nothing.
constexpr bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  if (a_size == 0 || b_size == 0) return false;
  // Compare distances instead of ends so that ranges touching 2^64 do not wrap.
  return a < b ? b - a < a_size : a - b < b_size;
}

// True when [gpa, gpa+size) lies inside one writable RAM region (not ROM, not a hole).
// A zero-size range is RAM when gpa lies inside (or at the end of) a RAM region.
bool is_guest_ram(const GuestMemory& memory, uint64_t gpa, uint64_t size);

// End of the RAM region containing `gpa`, or nullopt when gpa is not in RAM. Used to
// tell the user how much room there is when an image does not fit.
std::optional<uint64_t> ram_region_end(const GuestMemory& memory, uint64_t gpa);

// Bytes of RAM that run contiguously from `gpa` upwards (across adjacent RAM regions).
uint64_t contiguous_ram_from(const GuestMemory& memory, uint64_t gpa);

// Copies `bytes` to gpa and zero-fills up to `memory_size` bytes. The caller has checked
// is_guest_ram(gpa, memory_size) and bytes.size() <= memory_size; false if it lied.
bool copy_and_zero_fill(GuestMemory& memory, uint64_t gpa, std::span<const uint8_t> bytes, uint64_t memory_size);

}  // namespace kvpc::boot
