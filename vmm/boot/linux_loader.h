// Linux direct boot: a bzImage through the 64-bit boot protocol, or an uncompressed vmlinux
// through the PVH entry, with its command line, initrd and the MP table for kernels that
// find no ACPI (docs/boot-protocol.md has the memory layout).
//
//   0x01000-0x09169  kvpc's long-mode tables (bzImage only: identity map 0-4 GiB, GDT, TSS)
//   0x10000          boot_params ("zero page", bzImage) or hvm_start_info + module list +
//                    memory map (PVH)
//   0x20000          the command line
//   0xF0000          the MP floating pointer and configuration table
//   kernel           pref_address when it fits, else the lowest aligned address >= 1 MiB
//                    (relocatable kernels); PVH segments at their physical addresses
//   initrd           as high as initrd_addr_max and low RAM allow, page aligned, above
//                    everything the kernel claims (init_size for a bzImage)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "vmm/boot/mp_table.h"
#include "vmm/cpu_entry_state.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr uint64_t kLinuxBootParamsAddress = 0x10000;
inline constexpr uint64_t kLinuxCmdlineAddress = 0x20000;
inline constexpr uint64_t kLinuxBootStackTop = 0x1FF00;  // below the command line, above boot_params
// Linux reads at most COMMAND_LINE_SIZE (2048 on x86) bytes; a PVH start_info has no size
// field, so kvpc bounds it by the room up to the EBDA.
inline constexpr uint64_t kLinuxPvhMaxCmdline = 0x9F000 - kLinuxCmdlineAddress - 1;

// boot_params offsets kvpc fills (arch/x86/include/uapi/asm/bootparam.h).
struct BootParamsOffsets {
  static constexpr uint64_t kExtRamdiskImage = 0x0C0;
  static constexpr uint64_t kExtRamdiskSize = 0x0C4;
  static constexpr uint64_t kExtCmdLinePtr = 0x0C8;
  static constexpr uint64_t kE820Entries = 0x1E8;
  static constexpr uint64_t kSentinel = 0x1EF;
  static constexpr uint64_t kE820Table = 0x2D0;
  static constexpr uint64_t kE820MaxEntries = 128;
  static constexpr uint64_t kSize = 4096;
};

// hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h), version 1.
inline constexpr uint32_t kHvmStartMagic = 0x336EC578;
struct HvmStartInfoLayout {
  static constexpr uint64_t kSize = 56;
  static constexpr uint64_t kModuleListAddress = kLinuxBootParamsAddress + 0x40;  // one 32-byte entry
  static constexpr uint64_t kMemoryMapAddress = kLinuxBootParamsAddress + 0x80;  // 24-byte entries
  static constexpr uint64_t kMaxMemoryMapEntries = 128;
};

struct LinuxBootRequest {
  std::span<const uint8_t> image;
  std::string_view cmdline;
  std::optional<std::span<const uint8_t>> initrd;
  MpTableDescription mp;  // CPUs and how PCI interrupts reach the I/O APIC
};

Result<CpuEntryState> load_linux_bzimage(const LinuxBootRequest& request, GuestMemory& memory);
Result<CpuEntryState> load_linux_pvh(const LinuxBootRequest& request, GuestMemory& memory);

}  // namespace kvpc
