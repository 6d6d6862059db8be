// Cpu: the interpreter core of one emulated vCPU.
//
// step() executes one instruction (or delivers one pending interrupt) and says whether
// the VMM must be told something. The core is split by concern over several files:
//   cpu.cc         dispatch, register/operand helpers, exits, dump
//   mmu.cc         linear -> physical translation, software TLB, memory and MMIO access
//   exec_alu.cc    arithmetic, logic, shifts, multiply/divide, bit operations
//   exec_flow.cc   jumps, calls, stack, data movement
//   exec_string.cc movs/stos/lods/cmps/scas/ins/outs and their rep forms
//   exec_system.cc control registers, descriptor tables, MSRs, cpuid, port I/O, hlt
//   interrupts.cc  IDT delivery of exceptions and interrupts, #DF/triple fault, iret
//
// Exits that need an answer (IN, MMIO read) abort the instruction and restart it on the
// next step(); the restarted access then consumes the answer the VMM left in kvm_run. So
// instructions read everything they need before they commit register state. Exits that
// need no answer (OUT, MMIO write) complete the instruction first, as KVM does.
//
// Concurrency contract: a Cpu is used by its vCPU thread only.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "vmm/cpu_entry_state.h"
#include "vmm/emu/decoder.h"
#include "vmm/emu/machine.h"
#include "vmm/emu/segments.h"
#include "vmm/result.h"

namespace kvpc::emu {

enum Reg : uint8_t { kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi };

inline constexpr uint64_t kCr0Pe = 1ULL << 0;
inline constexpr uint64_t kCr0Wp = 1ULL << 16;
inline constexpr uint64_t kCr0Pg = 1ULL << 31;
inline constexpr uint64_t kCr4Pae = 1ULL << 5;
inline constexpr uint64_t kEferSce = 1ULL << 0;
inline constexpr uint64_t kEferLme = 1ULL << 8;
inline constexpr uint64_t kEferLma = 1ULL << 10;
inline constexpr uint64_t kEferNxe = 1ULL << 11;

struct TableRegister {
  uint64_t base = 0;
  uint16_t limit = 0;
};

// Architectural state, public so the vCPU glue and tests can inspect it.
struct CpuRegs {
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0;
  uint64_t rflags = 0x2;
  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0;
  uint64_t efer = 0;
  uint64_t kernel_gs_base = 0;
  std::array<Segment, 6> seg{};
  Segment tr;
  TableRegister gdtr, idtr;
};

// A fault raised while executing; delivered through the IDT by step().
struct GuestFault {
  uint8_t vector;
  bool has_error;
  uint32_t error;
};
// The instruction needs the VMM (an MMIO read, a reported int3): kvm_run is filled, restart on
// the next step. (IN does the same without a throw: port_in() and exit_requested_.)
struct ExitRequest {};
// The instruction is outside the subset: report KVM_INTERNAL_ERROR_EMULATION.
struct Unsupported {};

enum class StepResult { kContinue, kExit, kHalt, kShutdown };

enum class Access : uint8_t { kRead, kWrite, kFetch };

// What KVM_SET_GUEST_DEBUG asks of the interpreter (vmm/emu/debug.cc). Single-stepping
// itself is done by EmuVcpu, which runs one step() at a time while it is on.
struct DebugSetup {
  bool intercept_int3 = false;  // KVM_GUESTDBG_USE_SW_BP: int3 exits as KVM_EXIT_DEBUG (#BP)
  bool hw_breakpoints = false;  // KVM_GUESTDBG_USE_HW_BP: DR0-DR3 under DR7's control
  std::array<uint64_t, 4> dr{};
  uint64_t dr7 = 0;
};

class Cpu {
 public:
  Cpu(Machine& machine, kvm_run* run, uint32_t index);

  Status set_entry_state(const CpuEntryState& state);

  // Executes one instruction, or delivers one interrupt if one is deliverable.
  StepResult step();
  // IF=1, no interrupt shadow, and the PIC raises INTR (only vCPU 0 is wired to the PIC).
  bool interrupt_ready() const;
  bool halted() const { return halted_; }
  // True while an IN or MMIO read waits for the VMM's answer.
  bool has_pending_completion() const { return pending_in_ || pending_mmio_; }

  CpuRegs& regs() { return r_; }
  const CpuRegs& regs() const { return r_; }
  // Real mode runs at CPL 0 whatever CS holds; protected mode keeps CPL in CS.RPL.
  int cpl() const { return (r_.cr0 & kCr0Pe) ? (r_.seg[kCs].selector & 3) : 0; }
  bool real_mode() const { return !(r_.cr0 & kCr0Pe); }
  void flush_tlb();
  std::string dump() const;
  uint64_t instructions() const { return instructions_; }

  // --- debugging (debug.cc)
  void set_debug(const DebugSetup& setup);
  // DR6 B0-B3 bits of the enabled instruction breakpoints that match the current RIP.
  uint32_t instruction_breakpoint_hits() const;
  // DR6 B0-B3 bits of the data breakpoints hit since the last call (which clears them).
  uint32_t take_data_breakpoint_hits() {
    uint32_t hits = data_hits_;
    data_hits_ = 0;
    return hits;
  }
  // RIP as a linear address (CS base applied outside 64-bit mode): what DR0-DR3 compare.
  uint64_t linear_rip() const { return linear(kCs, r_.rip); }
  // Registers were changed from outside (a debugger): re-derive the mode, drop the TLB.
  void registers_changed() {
    update_mode();
    flush_tlb();
  }

 private:
  // --- cpu.cc
  StepResult execute_one();
  void execute(const Insn& in);
  void fill_emulation_failure(const uint8_t* bytes, size_t len);
  uint64_t reg(unsigned index, int size) const;
  void set_reg(unsigned index, int size, uint64_t value);
  uint64_t effective_address(const Insn& in) const;  // offset, before segmentation
  uint64_t linear(int seg, uint64_t offset) const;
  uint64_t mem_address(const Insn& in) const;         // linear address of the memory operand
  uint64_t rm_read(const Insn& in, int size);
  void rm_write(const Insn& in, int size, uint64_t value);
  int stack_size(const Insn& in) const;                // push/pop width
  void push(uint64_t value, int size);
  uint64_t pop(int size);
  uint64_t read_stack(uint64_t offset_from_sp, int size);
  uint64_t sp_mask() const;
  bool condition(unsigned cc) const;
  void set_flags(uint64_t arith) { r_.rflags = (r_.rflags & ~0x8D5ULL) | (arith & 0x8D5ULL); }
  void update_mode();
  int code_bits() const { return code_bits_; }
  // Near branch: a 16-bit operand size wraps IP at 64 KiB; 64-bit mode checks canonicality.
  void jump(uint64_t target, int osz = 4);

  // --- mmu.cc
  struct TlbEntry {
    uint64_t tag = ~0ULL;    // linear page number
    uint8_t* host = nullptr; // host address of the page, nullptr for MMIO
    uint64_t phys = 0;       // physical page address
    bool user = true, writable = true, nx = false, dirty = true, rom = false;
    // RAM page holding an armed data breakpoint: `host` is nullptr so every access leaves
    // the fast path, and the slow path uses this pointer after noting the access.
    uint8_t* watched_host = nullptr;
    std::atomic<uint64_t>* dirty_word = nullptr;  // dirty-logged page: the bit a store sets
    uint64_t dirty_bit = 0;
  };
  TlbEntry& translate(uint64_t lin, Access acc, bool supervisor);
  void walk(uint64_t lin, Access acc, bool user_access, TlbEntry& entry);
  [[noreturn]] void page_fault(uint64_t lin, Access acc, bool present, bool user_access);
  uint64_t read_mem(uint64_t lin, int size, Access acc = Access::kRead, bool supervisor = false);
  void write_mem(uint64_t lin, int size, uint64_t value, bool supervisor = false);
  uint64_t mmio_read(uint64_t phys, int size);
  void mmio_write(uint64_t phys, int size, uint64_t value);
  size_t fetch_window(uint64_t lin, uint8_t* out, size_t max);

  // --- debug.cc
  void mark_if_watched(TlbEntry& entry) const;
  void note_data_access(uint64_t lin, int size, bool write);
  [[noreturn]] void report_int3();

  // --- exec_alu.cc
  void exec_alu_group(const Insn& in);  // 00-3F, 80-83, 84/85, A8/A9
  void exec_unary_group(const Insn& in);  // F6/F7, FE/FF /0 /1, 40-4F (32-bit)
  void exec_shift(const Insn& in);
  void exec_imul(const Insn& in);
  void exec_bits(const Insn& in);  // bt*, bsf/bsr, bswap
  void exec_atomic(const Insn& in);  // cmpxchg, xadd, xchg

  // --- exec_flow.cc
  void exec_flow(const Insn& in);
  void exec_move(const Insn& in);

  // --- exec_string.cc
  void exec_string(const Insn& in);
  bool string_iteration(const Insn& in);

  // --- exec_system.cc
  void exec_system(const Insn& in);
  // The port's value, or false after filling kvm_run for a KVM_EXIT_IO read: the caller then
  // returns at once, and execute_one() rewinds the instruction to restart it with the answer.
  // (Not a throw: a VM polling a port would otherwise pay an unwind per exit, in time and in
  // resident unwind tables; MMIO reads, reached from any memory operand, still throw.)
  [[nodiscard]] bool port_in(uint16_t port, int size, uint64_t& value);
  void port_out(uint16_t port, int size, uint64_t value);
  void check_io_permission(uint16_t port, int size);
  void write_cr(unsigned n, uint64_t value);
  Segment load_segment(uint16_t selector, bool code);
  void load_data_segment(int seg, uint16_t selector);

  // --- exec_legacy.cc: 16/32-bit-only forms (far transfers, segment loads and pushes,
  // pusha/popa, enter, les/lds/lss/lfs/lgs, smsw/lmsw/clts)
  static bool is_legacy_op(uint16_t op);
  void exec_legacy(const Insn& in);
  // The CS a far jmp/call/ret/iret to `selector` loads: real-mode base = selector << 4 and a
  // 16-bit segment, or a code descriptor at the same privilege in protected mode.
  Segment far_code_segment(uint16_t selector);
  void commit_far(const Segment& cs, uint64_t offset, int osz);
  void exec_double_shift(const Insn& in);  // shld/shrd (exec_alu.cc)

  // --- interrupts.cc
  enum class Event { kException, kSoftware, kExternal };
  StepResult raise(const GuestFault& fault);
  void deliver(uint8_t vector, Event kind, bool has_error, uint32_t error);
  void deliver64(uint8_t vector, Event kind, bool has_error, uint32_t error);
  void deliver32(uint8_t vector, Event kind, bool has_error, uint32_t error);
  void deliver_real(uint8_t vector);  // through the IVT at IDTR.base: push FLAGS, CS, IP
  uint64_t read_descriptor(uint16_t selector);
  void exec_iret(const Insn& in);

  Machine& machine_;
  kvm_run* run_;
  uint32_t index_;
  CpuRegs r_;
  int code_bits_ = 64;
  uint64_t insn_rip_ = 0;    // RIP of the instruction being executed
  bool halted_ = false;
  bool rex_seen_ = false;    // current instruction has REX (SPL/BPL/SIL/DIL instead of AH..BH)
  bool shadow_ = false;      // STI / MOV SS shadow for the next instruction
  bool exit_pending_ = false;  // an OUT / MMIO write exit is filled in kvm_run
  bool exit_requested_ = false;  // port_in() filled an IN exit: abandon and restart the instruction
  bool delivering_ = false;  // inside IDT delivery: MMIO accesses fault instead of exiting
  bool pending_in_ = false;
  uint16_t pending_port_ = 0;
  int pending_size_ = 0;
  bool pending_mmio_ = false;
  uint64_t pending_phys_ = 0;
  uint64_t instructions_ = 0;
  std::array<TlbEntry, 256> tlb_{};
  DebugSetup debug_;
  bool watch_armed_ = false;  // some enabled DR0-3 is a data breakpoint (TLB misses check)
  uint32_t data_hits_ = 0;
};

}  // namespace kvpc::emu
