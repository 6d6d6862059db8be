// Guest-virtual to guest-physical translation for the debugger, by walking the guest's own
// page tables in guest memory (read-only: unlike the CPU, the walk sets no A/D bits and
// checks no permissions, as a debugger's view of memory should).
//
// Modes, chosen from the control registers as the CPU does (SDM vol. 3, 4.1):
//   CR0.PG = 0                  linear = physical (32-bit truncated outside long mode)
//   EFER.LMA = 1                4-level paging: 4 KiB, 2 MiB and 1 GiB pages; canonical check
//   CR4.PAE = 1                 32-bit PAE: 4 PDPTEs, 4 KiB and 2 MiB pages
//   otherwise                   32-bit paging: 4 KiB pages, 4 MiB pages with CR4.PSE (PSE-36)
// 5-level paging (CR4.LA57) is refused with an error. A table outside guest RAM, or a
// not-present entry, is an error that names the level.
#pragma once

#include <cstdint>

#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc::gdb {

struct PagingRegs {
  uint64_t cr0 = 0;
  uint64_t cr3 = 0;
  uint64_t cr4 = 0;
  uint64_t efer = 0;
};

struct Translation {
  uint64_t gpa = 0;        // the physical address of `va`
  uint64_t page_size = 0;  // of the page that maps it (bytes to its end: page_size - va % page_size)
};

Result<Translation> translate_guest_virtual(const GuestMemory& memory, const PagingRegs& regs, uint64_t va);

}  // namespace kvpc::gdb
