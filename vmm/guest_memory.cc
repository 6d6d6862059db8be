#include "vmm/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace kvpc {

namespace {
// Guest-physical memory below this stays in 4 KiB pages (see add_region).
constexpr uint64_t kSmallPagesBelow = 2ULL << 20;
}  // namespace

GuestMemory::~GuestMemory() {
  for (auto& region : regions_) {
    if (region.host != nullptr) munmap(region.host, region.size);
  }
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept : regions_(std::move(other.regions_)) {
  other.regions_.clear();
}

GuestMemory& GuestMemory::operator=(GuestMemory&& other) noexcept {
  if (this != &other) {
    for (auto& region : regions_) munmap(region.host, region.size);
    regions_ = std::move(other.regions_);
    other.regions_.clear();
  }
  return *this;
}

Result<GuestMemory> GuestMemory::create_pc(uint64_t ram_bytes) {
  if (ram_bytes < (1ULL << 20)) {
    return make_error(fmt::format("guest memory of {} bytes is too small: kvpc needs at least 1 MiB", ram_bytes));
  }
  if (ram_bytes > kMaxRamBytes) {
    return make_error(fmt::format("guest memory of {} bytes is more than kvpc accepts (1 TiB)", ram_bytes));
  }
  if (ram_bytes % 4096 != 0) {
    return make_error("guest memory size must be a multiple of 4 KiB");
  }
  GuestMemory memory;
  uint64_t low = std::min(ram_bytes, kPciHoleStart);
  if (auto r = memory.add_region("ram-low", 0, kVgaWindowStart, false); !r) return r.error();
  if (auto r = memory.add_region("ram-low-upper", kVgaWindowEnd, low - kVgaWindowEnd, false); !r) return r.error();
  if (ram_bytes > low) {
    if (auto r = memory.add_region("ram-high", k4GiB, ram_bytes - low, false); !r) return r.error();
  }
  return memory;
}

Result<std::span<uint8_t>> GuestMemory::add_region(std::string name, uint64_t gpa, uint64_t size, bool read_only) {
  if (size == 0) return make_error(fmt::format("memory region '{}' has zero size", name));
  if (gpa + size < gpa) return make_error(fmt::format("memory region '{}' wraps around the address space", name));
  if ((gpa | size) & 0xFFF) return make_error(fmt::format("memory region '{}' is not 4 KiB aligned", name));
  for (const auto& other : regions_) {
    if (gpa < other.gpa + other.size && other.gpa < gpa + size) {
      return make_error(fmt::format("memory region '{}' at {:#x}+{:#x} overlaps '{}'", name, gpa, size, other.name));
    }
  }
  // MAP_NORESERVE: guest RAM is touched lazily; untouched pages cost nothing.
  void* host = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (host == MAP_FAILED) {
    return make_error(fmt::format("cannot map {} bytes for memory region '{}': {}", size, name, strerror(errno)));
  }
  // Guest RAM is useless to a forked child (the control socket never forks, but a helper
  // process spawned later must not double the VMM's commit charge).
  madvise(host, size, MADV_DONTFORK);
  // Transparent huge pages where the kernel offers them: fewer TLB misses for the guest. Not
  // for guest-physical 0-2 MiB: every boot touches it sparsely (real-mode area, boot tables,
  // the kernel at 1 MiB), and one huge page there turns ~100 KiB of touched memory into 2 MiB
  // of RSS (docs/performance.md, "Memory"). No MADV_MERGEABLE: KSM would scan every VM's RAM
  // for CPU time, and merged pages let one guest time another's memory contents.
  if (gpa + size > kSmallPagesBelow) {
    const uint64_t skip = gpa < kSmallPagesBelow ? kSmallPagesBelow - gpa : 0;
    madvise(static_cast<uint8_t*>(host) + skip, size - skip, MADV_HUGEPAGE);
  }
  MemoryRegion region{std::move(name), gpa, size, static_cast<uint8_t*>(host), read_only,
                      static_cast<uint32_t>(regions_.size())};
  regions_.push_back(std::move(region));
  std::sort(regions_.begin(), regions_.end(), [](const auto& a, const auto& b) { return a.gpa < b.gpa; });
  for (const auto& r : regions_) {
    if (r.gpa == gpa) return std::span<uint8_t>(r.host, r.size);
  }
  return make_error("internal error: region vanished");
}

Result<std::span<uint8_t>> GuestMemory::add_device_region(std::string name, uint64_t gpa, uint64_t size,
                                                          bool log_dirty) {
  auto added = add_region(std::move(name), gpa, size, false);
  if (!added) return added;
  for (auto& region : regions_) {
    if (region.gpa == gpa) {
      region.device = true;
      region.log_dirty = log_dirty;
    }
  }
  return added;
}

const MemoryRegion* GuestMemory::region_at(uint64_t gpa) const {
  for (const auto& region : regions_) {
    if (region.gpa == gpa) return &region;
  }
  return nullptr;
}

const MemoryRegion* GuestMemory::find(uint64_t gpa, uint64_t len) const {
  if (gpa + len < gpa) return nullptr;
  for (const auto& region : regions_) {
    if (gpa >= region.gpa && gpa - region.gpa <= region.size && len <= region.size - (gpa - region.gpa)) {
      return &region;
    }
  }
  return nullptr;
}

std::optional<std::span<uint8_t>> GuestMemory::span(uint64_t gpa, uint64_t len) const {
  const MemoryRegion* region = find(gpa, len);
  if (region == nullptr) return std::nullopt;
  // SAFETY: find() proved [gpa, gpa+len) lies inside the region's mapping.
  return std::span<uint8_t>(region->host + (gpa - region->gpa), len);
}

bool GuestMemory::read(uint64_t gpa, std::span<uint8_t> out) const {
  auto view = span(gpa, out.size());
  if (!view) return false;
  if (out.empty()) return true;
  std::memcpy(out.data(), view->data(), out.size());
  return true;
}

bool GuestMemory::write(uint64_t gpa, std::span<const uint8_t> in, bool allow_rom) {
  const MemoryRegion* region = find(gpa, in.size());
  if (region == nullptr || (region->read_only && !allow_rom)) return false;
  if (in.empty()) return true;
  std::memcpy(region->host + (gpa - region->gpa), in.data(), in.size());
  return true;
}

uint64_t GuestMemory::ram_bytes() const {
  uint64_t total = 0;
  for (const auto& region : regions_) {
    if (!region.read_only && !region.device) total += region.size;
  }
  // A PC with 64 MiB says 64 MiB although the VGA window is carved out of its low RAM;
  // count the hole when RAM surrounds it, so the size guests are told matches --mem.
  bool ram_below = false, ram_above = false;
  for (const auto& region : regions_) {
    if (region.read_only || region.device) continue;
    if (region.gpa + region.size == kVgaWindowStart) ram_below = true;
    if (region.gpa == kVgaWindowEnd) ram_above = true;
  }
  if (ram_below && ram_above) total += kVgaWindowEnd - kVgaWindowStart;
  return total;
}

std::vector<E820Entry> GuestMemory::e820() const {
  std::vector<E820Entry> map;
  for (const auto& region : regions_) {
    if (region.read_only || region.device) continue;
    uint64_t start = region.gpa;
    uint64_t end = region.gpa + region.size;
    // The legacy window 640 KiB..1 MiB holds VGA memory and BIOS ROM images.
    constexpr uint64_t kLegacyStart = 0xA0000, kLegacyEnd = 0x100000;
    if (start < kLegacyEnd && end > kLegacyStart) {
      if (start < kLegacyStart) map.push_back({start, kLegacyStart - start, E820Entry::kRam});
      map.push_back({kLegacyStart, std::min(end, kLegacyEnd) - kLegacyStart, E820Entry::kReserved});
      if (end > kLegacyEnd) map.push_back({kLegacyEnd, end - kLegacyEnd, E820Entry::kRam});
    } else {
      map.push_back({start, end - start, E820Entry::kRam});
    }
  }
  return map;
}

Result<uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return make_error("empty size");
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return make_error(fmt::format("'{}' is not a size (examples: 64M, 1G, 1048576)", text));
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    uint64_t next = value * 10 + static_cast<uint64_t>(text[i] - '0');
    if (next / 10 != value) return make_error(fmt::format("size '{}' is too large", text));
    value = next;
  }
  std::string suffix = text.substr(digits);
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB") shift = 10;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB") shift = 20;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB") shift = 30;
  else if (suffix == "T" || suffix == "t" || suffix == "TiB") shift = 40;
  else return make_error(fmt::format("size '{}' has an unknown unit '{}' (use K, M, G or T)", text, suffix));
  if (shift != 0 && value > (UINT64_MAX >> shift)) return make_error(fmt::format("size '{}' is too large", text));
  value <<= shift;
  if (value == 0) return make_error("size must not be zero");
  return value;
}

}  // namespace kvpc
