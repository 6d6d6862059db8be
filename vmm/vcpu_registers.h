// VcpuRegisters: one vCPU's architectural state as `kvpc inspect` shows it (general, segment,
// control and descriptor-table registers), the same for KVM and the emulator.
#pragma once

#include <array>
#include <cstdint>

namespace kvpc {

struct VcpuRegisters {
  // rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8..r15 (that order; see kGprNames)
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0, rflags = 0;
  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0;
  struct Segment {
    uint16_t selector = 0;
    uint64_t base = 0;
    uint32_t limit = 0;
    uint8_t type = 0, dpl = 0;
    bool present = false, long_mode = false, default_big = false;
  };
  // es, cs, ss, ds, fs, gs, tr, ldtr (see kSegmentNames)
  std::array<Segment, 8> segments{};
  uint64_t gdt_base = 0, idt_base = 0;
  uint16_t gdt_limit = 0, idt_limit = 0;

  static constexpr const char* kGprNames[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                                                "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  static constexpr const char* kSegmentNames[8] = {"es", "cs", "ss", "ds", "fs", "gs", "tr", "ldtr"};
};

}  // namespace kvpc
