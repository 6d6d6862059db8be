// GuestMemory: the guest-physical address space backed by host memory.
//
// Regions are anonymous mappings (RAM, or ROM that the guest cannot write). Every access
// from the VMM goes through a bounds-checked call here; the only way to get a host pointer
// is span(), which checks that [gpa, gpa+len) lies inside one region. No raw pointer into
// guest memory escapes unchecked.
//
// Concurrency contract: regions are added during set-up only (single-threaded); after
// freeze() the region table is immutable and every method is safe from any thread. The
// *contents* of guest memory are shared with running vCPUs: the VMM reads and writes them
// without locks, exactly as a DMA-capable device would.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

struct MemoryRegion {
  std::string name;
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint8_t* host = nullptr;  // owned by GuestMemory (munmap in the destructor)
  bool read_only = false;
  uint32_t slot = 0;  // KVM memory slot number
  // Device memory (a framebuffer in a PCI BAR): not RAM, so not in e820() or ram_bytes().
  bool device = false;
  // The accelerator records which 4 KiB pages the guest wrote (VmBackend::fetch_dirty_log).
  bool log_dirty = false;
};

// One entry of the BIOS-style memory map given to guests (Multiboot mmap, e820).
struct E820Entry {
  enum Type : uint32_t { kRam = 1, kReserved = 2 };
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t type = kRam;
};

class GuestMemory {
 public:
  // Lowest address of the hole below 4 GiB kept free for PCI MMIO and the firmware.
  static constexpr uint64_t kPciHoleStart = 0xC0000000ULL;
  static constexpr uint64_t k4GiB = 0x100000000ULL;
  // Largest guest RAM kvpc accepts (a typo guard, not a KVM limit).
  static constexpr uint64_t kMaxRamBytes = 1ULL << 40;

  GuestMemory() = default;
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  GuestMemory(GuestMemory&& other) noexcept;
  GuestMemory& operator=(GuestMemory&& other) noexcept;

  // The standard PC layout: RAM from 0 up to min(ram_bytes, 3 GiB), the rest above 4 GiB,
  // with a hole at 0xA0000-0xBFFFF: the VGA memory window is a device (MMIO), never RAM.
  static constexpr uint64_t kVgaWindowStart = 0xA0000;
  static constexpr uint64_t kVgaWindowEnd = 0xC0000;
  static Result<GuestMemory> create_pc(uint64_t ram_bytes);

  // Adds an anonymous region. Rejects zero size, overflow, overlap and unaligned (4 KiB) bounds.
  Result<std::span<uint8_t>> add_region(std::string name, uint64_t gpa, uint64_t size, bool read_only);

  // A device-memory region (see MemoryRegion::device), e.g. a linear framebuffer, with
  // optional dirty-page logging. Same checks as add_region.
  Result<std::span<uint8_t>> add_device_region(std::string name, uint64_t gpa, uint64_t size, bool log_dirty);
  // The region that starts at `gpa`, or nullptr.
  const MemoryRegion* region_at(uint64_t gpa) const;

  // Checked host view of [gpa, gpa+len) if it lies entirely inside one region.
  std::optional<std::span<uint8_t>> span(uint64_t gpa, uint64_t len) const;

  // Checked copies; false when any byte is outside guest memory. write() refuses ROM
  // unless allow_rom (loaders fill ROM at set-up time).
  bool read(uint64_t gpa, std::span<uint8_t> out) const;
  bool write(uint64_t gpa, std::span<const uint8_t> in, bool allow_rom = false);

  template <typename T>
  std::optional<T> read_obj(uint64_t gpa) const {
    T value;
    if (!read(gpa, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&value), sizeof(T)))) return std::nullopt;
    return value;
  }
  template <typename T>
  bool write_obj(uint64_t gpa, const T& value) {
    return write(gpa, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
  }

  const std::vector<MemoryRegion>& regions() const { return regions_; }
  // Total bytes of RAM (not ROM, not device memory), the VGA window hole counted as RAM.
  uint64_t ram_bytes() const;
  // RAM as the guest's memory map describes it: low RAM split around the legacy
  // 640 KiB..1 MiB window (reserved), plus RAM above 4 GiB.
  std::vector<E820Entry> e820() const;

 private:
  const MemoryRegion* find(uint64_t gpa, uint64_t len) const;
  std::vector<MemoryRegion> regions_;
};

// Parses "64M", "1G", "512K", "1048576" (bytes). Rejects zero, garbage and overflow.
Result<uint64_t> parse_size(const std::string& text);

}  // namespace kvpc
