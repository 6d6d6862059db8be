// The Multiboot v1 information structure a kernel finds at EBX, built in low memory.
//
// Layout of the info area [0x8000, 0x10000): chosen below the 64 KiB line so it never meets
// a kernel linked at the usual 1 MiB, and above 0x500 so the real-mode IVT and BIOS data
// area stay untouched for kernels that look there. The Multiboot loader refuses kernels
// whose segments overlap this area.
//
//   0x8000  multiboot_info (116 bytes, the full v1 structure, unused fields zero)
//   0x8100  boot loader name "kvpc"
//   0x8200  memory map: 24-byte entries {u32 size = 20, u64 base, u64 length, u32 type}
//   0x8800  module list: 16-byte entries {u32 mod_start, u32 mod_end, u32 string, u32 0}
//   0x9000  kernel command line, NUL-terminated
//   0xA000  module strings, NUL-terminated, packed one after another
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr uint64_t kMultibootInfoAreaStart = 0x8000;
inline constexpr uint64_t kMultibootInfoAreaEnd = 0x10000;
inline constexpr uint64_t kMultibootInfoAddress = 0x8000;
inline constexpr uint64_t kMultibootInfoBytes = 116;
inline constexpr uint64_t kMultibootLoaderNameAddress = 0x8100;
inline constexpr uint64_t kMultibootMmapAddress = 0x8200;
inline constexpr uint64_t kMultibootMmapEntryBytes = 24;
inline constexpr uint64_t kMultibootMaxMmapEntries = (0x8800 - kMultibootMmapAddress) / kMultibootMmapEntryBytes;
inline constexpr uint64_t kMultibootModuleListAddress = 0x8800;
inline constexpr uint64_t kMultibootModuleEntryBytes = 16;
inline constexpr uint64_t kMultibootMaxModules = (0x9000 - kMultibootModuleListAddress) / kMultibootModuleEntryBytes;
inline constexpr uint64_t kMultibootCmdlineAddress = 0x9000;
inline constexpr uint64_t kMultibootMaxCmdlineBytes = 0xA000 - kMultibootCmdlineAddress - 1;  // without NUL
inline constexpr uint64_t kMultibootModuleStringsAddress = 0xA000;
inline constexpr uint64_t kMultibootModuleStringsBytes = kMultibootInfoAreaEnd - kMultibootModuleStringsAddress;

// multiboot_info.flags bits kvpc sets.
inline constexpr uint32_t kMultibootInfoMemory = 1u << 0;
inline constexpr uint32_t kMultibootInfoCmdline = 1u << 2;
inline constexpr uint32_t kMultibootInfoModules = 1u << 3;
inline constexpr uint32_t kMultibootInfoMemoryMap = 1u << 6;
inline constexpr uint32_t kMultibootInfoLoaderName = 1u << 9;

struct PlacedMultibootModule {
  uint32_t start = 0;
  uint32_t end = 0;  // exclusive, as the specification's mod_end
  std::string cmdline;
};

struct MultibootInfoContents {
  uint32_t mem_lower_kib = 0;
  uint32_t mem_upper_kib = 0;
  std::string_view cmdline;
  std::vector<PlacedMultibootModule> modules;
  std::vector<E820Entry> memory_map;
};

// mem_lower: KiB of RAM from 0 (at most 640); mem_upper: KiB of RAM running contiguously
// from 1 MiB (so with 4 GiB of RAM, only the part below the PCI hole).
uint32_t multiboot_mem_lower_kib(const GuestMemory& memory);
uint32_t multiboot_mem_upper_kib(const GuestMemory& memory);

// Checks every length against its slot in the area, then writes the whole area in one go.
// Nothing is written when a check fails. Returns the info structure's address (for EBX).
Result<uint32_t> write_multiboot_info(GuestMemory& memory, const MultibootInfoContents& contents);

}  // namespace kvpc
