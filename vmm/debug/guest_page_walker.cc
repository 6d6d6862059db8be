#include "vmm/debug/guest_page_walker.h"

#include <fmt/format.h>

namespace kvpc::gdb {
namespace {

constexpr uint64_t kCr0Pg = 1ULL << 31;
constexpr uint64_t kCr4Pse = 1ULL << 4;
constexpr uint64_t kCr4Pae = 1ULL << 5;
constexpr uint64_t kCr4La57 = 1ULL << 12;
constexpr uint64_t kEferLma = 1ULL << 10;
constexpr uint64_t kPresent = 1ULL << 0;
constexpr uint64_t kPageSize = 1ULL << 7;
constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ULL;  // bits 12-51

Error not_mapped(uint64_t va, const char* level) {
  return make_error(fmt::format("guest address {:#x} is not mapped ({} entry not present)", va, level));
}

Error table_outside_ram(uint64_t va, const char* level, uint64_t gpa) {
  return make_error(fmt::format("guest address {:#x}: the {} entry at physical {:#x} is outside guest RAM", va, level, gpa));
}

Result<Translation> walk_long_mode(const GuestMemory& memory, uint64_t cr3, uint64_t va) {
  if (static_cast<uint64_t>(static_cast<int64_t>(va << 16) >> 16) != va) {
    return make_error(fmt::format("guest address {:#x} is not canonical", va));
  }
  static constexpr const char* kLevels[4] = {"PTE", "PDE", "PDPTE", "PML4E"};
  uint64_t table = cr3 & kAddrMask;
  for (int level = 3; level >= 0; --level) {
    const int shift = 12 + 9 * level;
    const uint64_t entry_gpa = table + ((va >> shift) & 0x1FF) * 8;
    auto entry = memory.read_obj<uint64_t>(entry_gpa);
    if (!entry) return table_outside_ram(va, kLevels[level], entry_gpa);
    if (!(*entry & kPresent)) return not_mapped(va, kLevels[level]);
    const bool leaf = level == 0 || ((level == 1 || level == 2) && (*entry & kPageSize));
    if (leaf) {
      const uint64_t size = 1ULL << shift;
      const uint64_t frame = *entry & kAddrMask & ~(size - 1);
      return Translation{frame | (va & (size - 1)), size};
    }
    table = *entry & kAddrMask;
  }
  return make_error("unreachable");
}

Result<Translation> walk_pae(const GuestMemory& memory, uint64_t cr3, uint64_t va) {
  va &= 0xFFFFFFFF;
  const uint64_t pdpte_gpa = (cr3 & 0xFFFFFFE0ULL) + ((va >> 30) & 3) * 8;
  auto pdpte = memory.read_obj<uint64_t>(pdpte_gpa);
  if (!pdpte) return table_outside_ram(va, "PDPTE", pdpte_gpa);
  if (!(*pdpte & kPresent)) return not_mapped(va, "PDPTE");
  const uint64_t pde_gpa = (*pdpte & kAddrMask) + ((va >> 21) & 0x1FF) * 8;
  auto pde = memory.read_obj<uint64_t>(pde_gpa);
  if (!pde) return table_outside_ram(va, "PDE", pde_gpa);
  if (!(*pde & kPresent)) return not_mapped(va, "PDE");
  if (*pde & kPageSize) return Translation{(*pde & kAddrMask & ~0x1FFFFFULL) | (va & 0x1FFFFF), 1ULL << 21};
  const uint64_t pte_gpa = (*pde & kAddrMask) + ((va >> 12) & 0x1FF) * 8;
  auto pte = memory.read_obj<uint64_t>(pte_gpa);
  if (!pte) return table_outside_ram(va, "PTE", pte_gpa);
  if (!(*pte & kPresent)) return not_mapped(va, "PTE");
  return Translation{(*pte & kAddrMask) | (va & 0xFFF), 1ULL << 12};
}

Result<Translation> walk_legacy32(const GuestMemory& memory, uint64_t cr3, uint64_t cr4, uint64_t va) {
  va &= 0xFFFFFFFF;
  const uint64_t pde_gpa = (cr3 & 0xFFFFF000ULL) + (va >> 22) * 4;
  auto pde = memory.read_obj<uint32_t>(pde_gpa);
  if (!pde) return table_outside_ram(va, "PDE", pde_gpa);
  if (!(*pde & kPresent)) return not_mapped(va, "PDE");
  if ((*pde & kPageSize) && (cr4 & kCr4Pse)) {
    // 4 MiB page; PSE-36 puts physical bits 32-39 in PDE bits 13-20.
    const uint64_t frame = (uint64_t{*pde} & 0xFFC00000ULL) | ((uint64_t{*pde} >> 13) & 0xFF) << 32;
    return Translation{frame | (va & 0x3FFFFF), 1ULL << 22};
  }
  const uint64_t pte_gpa = (*pde & 0xFFFFF000ULL) + ((va >> 12) & 0x3FF) * 4;
  auto pte = memory.read_obj<uint32_t>(pte_gpa);
  if (!pte) return table_outside_ram(va, "PTE", pte_gpa);
  if (!(*pte & kPresent)) return not_mapped(va, "PTE");
  return Translation{(*pte & 0xFFFFF000ULL) | (va & 0xFFF), 1ULL << 12};
}

}  // namespace

Result<Translation> translate_guest_virtual(const GuestMemory& memory, const PagingRegs& regs, uint64_t va) {
  if (!(regs.cr0 & kCr0Pg)) {
    const uint64_t gpa = (regs.efer & kEferLma) ? va : (va & 0xFFFFFFFF);
    return Translation{gpa, 1ULL << 12};
  }
  if (regs.efer & kEferLma) {
    if (regs.cr4 & kCr4La57) return make_error("5-level paging (CR4.LA57) is not supported by the debugger's page walker");
    return walk_long_mode(memory, regs.cr3, va);
  }
  if (regs.cr4 & kCr4Pae) return walk_pae(memory, regs.cr3, va);
  return walk_legacy32(memory, regs.cr3, regs.cr4, va);
}

}  // namespace kvpc::gdb
