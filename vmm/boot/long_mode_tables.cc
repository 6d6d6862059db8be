#include "vmm/boot/long_mode_tables.h"

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/guest_ranges.h"

namespace kvpc {
namespace {

using boot::write_u16;
using boot::write_u64;

constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kTwoMiB = 2ULL << 20;
constexpr uint64_t kEntriesPerTable = 512;

// A 16-byte system descriptor. The TSS one is marked *busy* (type 0xB), not available (0x9):
// TR is already loaded at entry, and busy is what `ltr` would have left in memory.
struct SystemDescriptor {
  uint64_t low = 0;
  uint64_t high = 0;
};

constexpr SystemDescriptor tss_descriptor(uint64_t base, uint32_t limit) {
  constexpr uint64_t kPresentBusyTss64 = 0x8B;  // P=1, DPL0, S=0, type 0xB
  SystemDescriptor d;
  d.low = (limit & 0xFFFFULL) | ((base & 0xFFFFFFULL) << 16) | (kPresentBusyTss64 << 40) |
          ((uint64_t{limit} >> 16 & 0xF) << 48) | ((base >> 24 & 0xFF) << 56);
  d.high = base >> 32;
  return d;
}

std::vector<uint8_t> page_tables() {
  // PML4, PDPT and the PDs are consecutive pages starting at the PML4.
  std::vector<uint8_t> pages((2 + kLongModePageDirectoryCount) * kPageBytes, 0);
  constexpr uint64_t kTableFlags = kPtePresent | kPteWritable | kPteUser;
  write_u64(pages, 0, kLongModePdptAddress | kTableFlags);
  for (uint64_t i = 0; i < kLongModePageDirectoryCount; ++i) {
    write_u64(pages, kPageBytes + i * 8, (kLongModePageDirectoriesAddress + i * kPageBytes) | kTableFlags);
    for (uint64_t j = 0; j < kEntriesPerTable; ++j) {
      uint64_t physical = (i * kEntriesPerTable + j) * kTwoMiB;
      write_u64(pages, (2 + i) * kPageBytes + j * 8, physical | kTableFlags | kPtePageSize);
    }
  }
  return pages;
}

std::vector<uint8_t> gdt() {
  std::vector<uint8_t> table(kLongModeGdtLimit + 1, 0);
  write_u64(table, kLongModeKernelCode, kGdtKernelCode64);
  write_u64(table, kLongModeKernelData, kGdtKernelData);
  write_u64(table, kLongModeUserCode32, kGdtUserCode32);
  write_u64(table, kLongModeUserData, kGdtUserData);
  write_u64(table, kLongModeUserCode64, kGdtUserCode64);
  SystemDescriptor tss = tss_descriptor(kLongModeTssAddress, kLongModeTssLimit);
  write_u64(table, kLongModeTss, tss.low);
  write_u64(table, kLongModeTss + 8, tss.high);
  return table;
}

std::vector<uint8_t> tss(uint64_t rsp0) {
  std::vector<uint8_t> segment(kLongModeTssLimit + 1, 0);
  write_u64(segment, 4, rsp0);
  write_u16(segment, 102, kTssIoMapBase);
  segment[kTssIoMapBase + kTssIoBitmapBytes] = 0xFF;
  return segment;
}

}  // namespace

Status build_long_mode_tables(GuestMemory& memory, uint64_t rsp0, CpuEntryState& state) {
  if (!boot::is_guest_ram(memory, kLongModePml4Address, kLongModeTablesEnd - kLongModePml4Address)) {
    return make_error(fmt::format("guest RAM does not cover [{:#x}, {:#x}), where the long-mode page tables, GDT "
                                  "and TSS go",
                                  kLongModePml4Address, kLongModeTablesEnd));
  }
  if (!memory.write(kLongModePml4Address, page_tables()) || !memory.write(kLongModeGdtAddress, gdt()) ||
      !memory.write(kLongModeTssAddress, tss(rsp0))) {
    return make_error("internal error: cannot write the long-mode tables to guest RAM");
  }
  state.mode = CpuEntryState::Mode::kLong64;
  state.cr3 = kLongModePml4Address;
  state.gdt_base = kLongModeGdtAddress;
  state.gdt_limit = kLongModeGdtLimit;
  state.idt_base = 0;
  state.idt_limit = 0;
  state.tss_base = kLongModeTssAddress;
  state.tss_limit = kLongModeTssLimit;
  state.code_selector = kLongModeKernelCode;
  state.data_selector64 = kLongModeKernelData;
  state.tss_selector = kLongModeTss;
  return ok_status();
}

}  // namespace kvpc
