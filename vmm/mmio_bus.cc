#include "vmm/mmio_bus.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace kvpc {

Status MmioBus::add(IoDevice* device, uint64_t base, uint64_t length) {
  if (device == nullptr) return make_error("cannot register a null device on the MMIO bus");
  const std::string name(device->name());
  if (frozen_) return make_error(fmt::format("{}: the MMIO bus is frozen; devices are added before the VM runs", name));
  if (length == 0) return make_error(fmt::format("{}: MMIO range at {:#x} has zero length", name, base));
  if (length - 1 > UINT64_MAX - base) {  // the last byte, base + length - 1, must not wrap
    return make_error(fmt::format("{}: MMIO range {:#x}+{:#x} wraps past the end of the address space", name, base, length));
  }
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), base,
                             [](const Range& r, uint64_t b) { return r.base < b; });
  if (it != ranges_.end() && it->base <= base + length - 1) {
    return make_error(fmt::format("{}: MMIO range {:#x}+{:#x} overlaps {}", name, base, length, it->device->name()));
  }
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->base + prev->length - 1 >= base) {
      return make_error(fmt::format("{}: MMIO range {:#x}+{:#x} overlaps {}", name, base, length, prev->device->name()));
    }
  }
  ranges_.insert(it, Range{base, length, device});
  return ok_status();
}

const MmioBus::Range* MmioBus::find_uncached(uint64_t gpa, Cache& cache) const {
  // First range whose base is > gpa, then step back one.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), gpa,
                             [](uint64_t g, const Range& r) { return g < r.base; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (gpa - it->base >= it->length) return nullptr;
  cache.last = &*it;
  return cache.last;
}

IoDevice* MmioBus::read(uint64_t gpa, std::span<uint8_t> data, Cache& cache) {
  std::memset(data.data(), 0xFF, data.size());
  const Range* range = find(gpa, cache);
  if (range == nullptr) {
    unclaimed_reads_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  range->device->read(gpa - range->base, data);
  return range->device;
}

IoDevice* MmioBus::write(uint64_t gpa, std::span<const uint8_t> data, Cache& cache) {
  const Range* range = find(gpa, cache);
  if (range == nullptr) {
    unclaimed_writes_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  range->device->write(gpa - range->base, data);
  return range->device;
}

}  // namespace kvpc
