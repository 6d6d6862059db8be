#include "vmm/boot/guest_ranges.h"

#include <cstring>

namespace kvpc::boot {

bool is_guest_ram(const GuestMemory& memory, uint64_t gpa, uint64_t size) {
  for (const auto& region : memory.regions()) {
    if (region.read_only) continue;
    if (gpa >= region.gpa && gpa - region.gpa <= region.size && size <= region.size - (gpa - region.gpa)) {
      return true;
    }
  }
  return false;
}

std::optional<uint64_t> ram_region_end(const GuestMemory& memory, uint64_t gpa) {
  for (const auto& region : memory.regions()) {
    if (!region.read_only && gpa >= region.gpa && gpa - region.gpa < region.size) return region.gpa + region.size;
  }
  return std::nullopt;
}

uint64_t contiguous_ram_from(const GuestMemory& memory, uint64_t gpa) {
  uint64_t cursor = gpa;
  // regions() is sorted by address, so one pass follows a chain of adjacent regions.
  for (const auto& region : memory.regions()) {
    if (region.read_only) continue;
    if (cursor >= region.gpa && cursor - region.gpa < region.size) cursor = region.gpa + region.size;
  }
  return cursor - gpa;
}

bool copy_and_zero_fill(GuestMemory& memory, uint64_t gpa, std::span<const uint8_t> bytes, uint64_t memory_size) {
  if (bytes.size() > memory_size || !is_guest_ram(memory, gpa, memory_size)) return false;
  auto view = memory.span(gpa, memory_size);
  if (!view) return false;
  if (!bytes.empty()) std::memcpy(view->data(), bytes.data(), bytes.size());
  // The zero fill matters even on fresh anonymous memory: a reboot reloads the image over
  // whatever the previous run left behind.
  if (memory_size > bytes.size()) std::memset(view->data() + bytes.size(), 0, memory_size - bytes.size());
  return true;
}

}  // namespace kvpc::boot
