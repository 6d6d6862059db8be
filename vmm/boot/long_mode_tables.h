// The host-built tables that let a vCPU start directly in 64-bit mode (no guest-side
// mode switch): identity-mapping page tables for 0-4 GiB, a GDT and a 64-bit TSS, at the
// fixed addresses of docs/boot-protocol.md. Used by the kvpc64 loader, and by anything
// else (other loaders, the emulator's tests) that wants a guest running in long mode.
#pragma once

#include <cstdint>

#include "vmm/cpu_entry_state.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr uint64_t kLongModePml4Address = 0x1000;
inline constexpr uint64_t kLongModePdptAddress = 0x2000;
inline constexpr uint64_t kLongModePageDirectoriesAddress = 0x3000;  // 4 of them, to 0x6FFF
inline constexpr uint64_t kLongModePageDirectoryCount = 4;           // 4 x 1 GiB = 0-4 GiB
inline constexpr uint64_t kLongModeGdtAddress = 0x7000;
inline constexpr uint64_t kLongModeTssAddress = 0x7100;

// Selectors. 0x18/0x20/0x28 are in the order SYSRET wants (STAR[63:48] = 0x18: 32-bit code
// at +0, data at +8, 64-bit code at +16), so a guest can use SYSCALL/SYSRET unchanged.
inline constexpr uint16_t kLongModeKernelCode = 0x08;
inline constexpr uint16_t kLongModeKernelData = 0x10;
inline constexpr uint16_t kLongModeUserCode32 = 0x18;
inline constexpr uint16_t kLongModeUserData = 0x20;
inline constexpr uint16_t kLongModeUserCode64 = 0x28;
inline constexpr uint16_t kLongModeTss = 0x30;

// GDT descriptors (the values docs/boot-protocol.md lists). Accessed bits are preset so the
// CPU never writes to the GDT when a selector is loaded.
inline constexpr uint64_t kGdtKernelCode64 = 0x00AF9B000000FFFF;  // L=1, DPL0, exec/read
inline constexpr uint64_t kGdtKernelData = 0x00CF93000000FFFF;    // DPL0, read/write, 4 GiB
inline constexpr uint64_t kGdtUserCode32 = 0x00CFFB000000FFFF;    // D=1, DPL3, exec/read
inline constexpr uint64_t kGdtUserData = 0x00CFF3000000FFFF;      // DPL3, read/write, 4 GiB
inline constexpr uint64_t kGdtUserCode64 = 0x00AFFB000000FFFF;    // L=1, DPL3, exec/read
inline constexpr uint16_t kLongModeGdtLimit = kLongModeTss + 16 - 1;  // the TSS descriptor is 16 bytes

// 64-bit TSS: 0x68 bytes of registers, then the I/O permission bitmap (8 KiB of zeros: every
// port allowed at CPL3), then the 0xFF byte the CPU needs after the bitmap.
inline constexpr uint16_t kTssIoMapBase = 0x68;
inline constexpr uint64_t kTssIoBitmapBytes = 8192;
inline constexpr uint32_t kLongModeTssLimit = kTssIoMapBase + kTssIoBitmapBytes;  // inclusive: covers the 0xFF
// First byte past everything build_long_mode_tables writes.
inline constexpr uint64_t kLongModeTablesEnd = kLongModeTssAddress + kLongModeTssLimit + 1;

// Page table entry bits.
inline constexpr uint64_t kPtePresent = 1u << 0;
inline constexpr uint64_t kPteWritable = 1u << 1;
inline constexpr uint64_t kPteUser = 1u << 2;
inline constexpr uint64_t kPtePageSize = 1u << 7;  // in a PD entry: a 2 MiB page

// Writes the PML4, PDPT, 4 PDs, GDT and TSS (with RSP0 = rsp0) into guest RAM at the
// addresses above, and fills `state`: mode kLong64, cr3, gdt, idt (limit 0: none), tss and
// selectors. Registers (rip, rsp, rdi...) are the caller's. Fails when RAM does not cover
// [0x1000, kLongModeTablesEnd).
Status build_long_mode_tables(GuestMemory& memory, uint64_t rsp0, CpuEntryState& state);

}  // namespace kvpc
