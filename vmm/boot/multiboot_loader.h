// Multiboot v1 kernels, loaded the way QEMU's -kernel does: ELF32 by its PT_LOAD segments,
// or by the header's address fields (the "a.out kludge", flag bit 16) whatever the format.
// Memory layout, entry state and every check: docs/loaders.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/cpu_entry_state.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

struct MultibootModule {
  std::string cmdline;  // the module's string (QEMU passes the file name and arguments)
  std::span<const uint8_t> bytes;  // borrowed: must outlive the load_multiboot() call
};

// Loads the kernel and its modules into RAM, writes the Multiboot info area
// (vmm/boot/multiboot_info.h) and returns flat 32-bit protected mode with
// EAX=0x2BADB002, EBX=info, EIP=entry. Modules go page-aligned after the kernel's highest
// address (never below 1 MiB).
Result<CpuEntryState> load_multiboot(std::span<const uint8_t> image, std::string_view cmdline,
                                     const std::vector<MultibootModule>& modules, GuestMemory& memory);

}  // namespace kvpc
