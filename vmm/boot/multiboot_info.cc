#include "vmm/boot/multiboot_info.h"

#include <algorithm>

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/guest_ranges.h"

namespace kvpc {
namespace {

using boot::write_bytes;
using boot::write_u32;
using boot::write_u64;

constexpr uint64_t kLowMemoryEnd = 0xA0000;  // 640 KiB: where VGA memory starts
constexpr uint64_t kOneMiB = 0x100000;
constexpr std::string_view kLoaderName = "kvpc";

// Offset of an address inside the host-side copy of the area.
constexpr uint64_t at(uint64_t gpa) { return gpa - kMultibootInfoAreaStart; }

Status check_string(std::string_view text, std::string_view what) {
  auto nul = text.find('\0');
  if (nul != std::string_view::npos) {
    return make_error(fmt::format("{} contains a NUL byte at offset {}; the guest would see it cut short", what, nul));
  }
  return ok_status();
}

}  // namespace

uint32_t multiboot_mem_lower_kib(const GuestMemory& memory) {
  return static_cast<uint32_t>(std::min(boot::contiguous_ram_from(memory, 0), kLowMemoryEnd) / 1024);
}

uint32_t multiboot_mem_upper_kib(const GuestMemory& memory) {
  return static_cast<uint32_t>(std::min<uint64_t>(boot::contiguous_ram_from(memory, kOneMiB) / 1024, UINT32_MAX));
}

Result<uint32_t> write_multiboot_info(GuestMemory& memory, const MultibootInfoContents& contents) {
  if (contents.cmdline.size() > kMultibootMaxCmdlineBytes) {
    return make_error(fmt::format("Multiboot command line is {} bytes; kvpc passes at most {}",
                                  contents.cmdline.size(), kMultibootMaxCmdlineBytes));
  }
  if (auto s = check_string(contents.cmdline, "Multiboot command line"); !s) return s.error();
  if (contents.memory_map.size() > kMultibootMaxMmapEntries) {
    return make_error(fmt::format("guest memory map has {} entries; the Multiboot info area holds at most {}",
                                  contents.memory_map.size(), kMultibootMaxMmapEntries));
  }
  if (contents.modules.size() > kMultibootMaxModules) {
    return make_error(fmt::format("{} Multiboot modules given; kvpc passes at most {}", contents.modules.size(),
                                  kMultibootMaxModules));
  }
  uint64_t strings_bytes = 0;
  for (size_t i = 0; i < contents.modules.size(); ++i) {
    if (auto s = check_string(contents.modules[i].cmdline, fmt::format("Multiboot module {} string", i)); !s) {
      return s.error();
    }
    strings_bytes += contents.modules[i].cmdline.size() + 1;
  }
  if (strings_bytes > kMultibootModuleStringsBytes) {
    return make_error(fmt::format("Multiboot module strings take {} bytes with their NULs; kvpc has room for {}",
                                  strings_bytes, kMultibootModuleStringsBytes));
  }
  if (!boot::is_guest_ram(memory, kMultibootInfoAreaStart, kMultibootInfoAreaEnd - kMultibootInfoAreaStart)) {
    return make_error(fmt::format("guest RAM does not cover the Multiboot info area [{:#x}, {:#x})",
                                  kMultibootInfoAreaStart, kMultibootInfoAreaEnd));
  }

  // Every byte of the area is written (zeros included) so nothing stale from a previous
  // boot survives a reboot.
  std::vector<uint8_t> area(kMultibootInfoAreaEnd - kMultibootInfoAreaStart, 0);

  write_bytes(area, at(kMultibootLoaderNameAddress), kLoaderName);
  write_bytes(area, at(kMultibootCmdlineAddress), contents.cmdline);

  for (size_t i = 0; i < contents.memory_map.size(); ++i) {
    const E820Entry& entry = contents.memory_map[i];
    uint64_t slot = at(kMultibootMmapAddress) + i * kMultibootMmapEntryBytes;
    // `size` counts the bytes after itself, so a kernel steps by size + 4.
    write_u32(area, slot, static_cast<uint32_t>(kMultibootMmapEntryBytes - 4));
    write_u64(area, slot + 4, entry.addr);
    write_u64(area, slot + 12, entry.size);
    write_u32(area, slot + 20, entry.type);
  }

  uint64_t string_cursor = kMultibootModuleStringsAddress;
  for (size_t i = 0; i < contents.modules.size(); ++i) {
    const PlacedMultibootModule& module = contents.modules[i];
    uint64_t slot = at(kMultibootModuleListAddress) + i * kMultibootModuleEntryBytes;
    write_u32(area, slot, module.start);
    write_u32(area, slot + 4, module.end);
    write_u32(area, slot + 8, static_cast<uint32_t>(string_cursor));
    write_bytes(area, at(string_cursor), module.cmdline);
    string_cursor += module.cmdline.size() + 1;
  }

  uint64_t info = at(kMultibootInfoAddress);
  write_u32(area, info + 0,
            kMultibootInfoMemory | kMultibootInfoCmdline | kMultibootInfoModules | kMultibootInfoMemoryMap |
                kMultibootInfoLoaderName);
  write_u32(area, info + 4, contents.mem_lower_kib);
  write_u32(area, info + 8, contents.mem_upper_kib);
  write_u32(area, info + 16, static_cast<uint32_t>(kMultibootCmdlineAddress));
  write_u32(area, info + 20, static_cast<uint32_t>(contents.modules.size()));
  write_u32(area, info + 24, static_cast<uint32_t>(kMultibootModuleListAddress));
  write_u32(area, info + 44, static_cast<uint32_t>(contents.memory_map.size() * kMultibootMmapEntryBytes));
  write_u32(area, info + 48, static_cast<uint32_t>(kMultibootMmapAddress));
  write_u32(area, info + 64, static_cast<uint32_t>(kMultibootLoaderNameAddress));

  if (area.size() != kMultibootInfoAreaEnd - kMultibootInfoAreaStart) {
    return make_error("internal error: Multiboot info area overflowed its layout");
  }
  if (!memory.write(kMultibootInfoAreaStart, area)) {
    return make_error("internal error: cannot write the Multiboot info area to guest RAM");
  }
  return static_cast<uint32_t>(kMultibootInfoAddress);
}

}  // namespace kvpc
