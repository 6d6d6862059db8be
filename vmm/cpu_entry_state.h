// CpuEntryState: the register state a loader asks the boot vCPU to start with.
//
// Loaders (vmm/boot/) describe *what* the guest expects (real mode at 1000:0000, flat
// 32-bit protected mode with EAX=0x2BADB002, 64-bit long mode with host-built tables);
// each vCPU backend (KVM, the emulator) turns it into its own register format.
#pragma once

#include <cstdint>

namespace kvpc {

struct CpuEntryState {
  enum class Mode {
    kReal16,       // real mode; cs_selector/cs_base and data_selector apply
    kProtected32,  // flat 32-bit protected mode, paging off (Multiboot)
    kLong64,       // 64-bit long mode with paging; cr3/gdt/idt/tr from long_mode_tables
  };
  Mode mode = Mode::kReal16;

  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rbp = 0, rsp = 0;
  uint64_t rip = 0;
  uint64_t rflags = 0x2;  // bit 1 is reserved and always set

  // kReal16: CS selector and base (the reset vector uses F000 with base FFFF0000), and the
  // selector for DS/ES/FS/GS/SS (base = selector << 4).
  uint16_t cs_selector = 0;
  uint64_t cs_base = 0;
  uint16_t data_selector = 0;

  // kLong64: tables the host built in guest memory.
  uint64_t cr3 = 0;
  uint64_t gdt_base = 0;
  uint16_t gdt_limit = 0;
  uint64_t idt_base = 0;
  uint16_t idt_limit = 0;
  uint64_t tss_base = 0;
  uint32_t tss_limit = 0;
  uint16_t code_selector = 0x08;
  uint16_t data_selector64 = 0x10;
  uint16_t tss_selector = 0x30;
};

}  // namespace kvpc
