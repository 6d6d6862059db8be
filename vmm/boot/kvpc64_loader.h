// kvpc64 direct boot (docs/boot-protocol.md): the image is copied to its load address, the
// host builds the long-mode tables, boot info, command line and e820 map, and the boot vCPU
// starts in 64-bit mode at the entry point.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vmm/cpu_entry_state.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr uint64_t kKvpc64BootInfoAddress = 0x9400;
inline constexpr uint64_t kKvpc64BootInfoBytes = 48;
inline constexpr std::string_view kKvpc64BootInfoMagic = "KVPCINFO";
inline constexpr uint64_t kKvpc64CmdlineAddress = 0x9800;
inline constexpr uint64_t kKvpc64MaxCmdlineBytes = 2047;  // without the NUL
inline constexpr uint64_t kKvpc64E820Address = 0xA000;
inline constexpr uint64_t kKvpc64E820EntryBytes = 24;
// The map must end below 0x10000, the top of the boot area.
inline constexpr uint64_t kKvpc64BootAreaEnd = 0x10000;
inline constexpr uint64_t kKvpc64MaxE820Entries = (kKvpc64BootAreaEnd - kKvpc64E820Address) / kKvpc64E820EntryBytes;
// The boot page tables map 0-4 GiB and the PCI hole starts at 3 GiB: images end below it.
inline constexpr uint64_t kKvpc64ImageLimit = GuestMemory::kPciHoleStart;
inline constexpr uint64_t kKvpc64StackAlignment = 16;

// Validates the header against the file and guest RAM, then loads. `cpus` goes into the
// boot info. Nothing is written to guest memory unless every check passes.
Result<CpuEntryState> load_kvpc64(std::span<const uint8_t> image, std::string_view cmdline, uint32_t cpus,
                                  GuestMemory& memory);

}  // namespace kvpc
