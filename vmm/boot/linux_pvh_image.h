// An uncompressed Linux `vmlinux` (ELF64, x86-64) that can be started through the PVH entry
// point: the 32-bit physical entry named by its XEN_ELFNOTE_PHYS32_ENTRY note (Xen's
// "HVM direct boot ABI", which Linux implements for Xen, QEMU's -kernel vmlinux and
// Firecracker). This is kvpc's fast path for Linux: no decompressor runs, which matters when
// every guest instruction before the kernel's first userspace is emulated.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

struct LinuxPvhSegment {
  uint32_t index = 0;    // program header number, for messages
  uint64_t offset = 0;   // in the file
  uint64_t paddr = 0;    // where it goes in guest-physical memory
  uint64_t filesz = 0;
  uint64_t memsz = 0;
};

struct LinuxPvhImage {
  uint32_t entry = 0;  // guest-physical, 32-bit protected mode
  std::vector<LinuxPvhSegment> segments;  // PT_LOAD with memsz > 0
};

inline constexpr uint32_t kXenElfNotePhys32Entry = 18;

// True for a 64-bit little-endian ELF file (it may still lack the PVH note).
bool is_elf64(std::span<const uint8_t> image);
// True when parse_linux_pvh_image() would find an entry note (cheap: detection only).
bool has_pvh_entry_note(std::span<const uint8_t> image);

// Checks the ELF64 header (class, data, type EXEC, machine x86-64), the program headers'
// bounds, every PT_LOAD (filesz <= memsz, file bytes inside the file, no address wrap, below
// 4 GiB physical — the PVH entry runs without paging), and finds the PVH note in a PT_NOTE
// segment (name "Xen", type 18, a 4- or 8-byte entry below 4 GiB).
Result<LinuxPvhImage> parse_linux_pvh_image(std::span<const uint8_t> image);

}  // namespace kvpc
