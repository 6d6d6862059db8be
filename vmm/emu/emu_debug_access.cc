// EmuVcpu's debugger side: KVM_GET/SET_REGS, KVM_GET/SET_SREGS and KVM_SET_GUEST_DEBUG with
// KVM's structures, and the run loop used while single-stepping or with DR0-DR3 armed.
//
// Exits mirror KVM's (api.rst, KVM_SET_GUEST_DEBUG / KVM_EXIT_DEBUG):
//   single-step          exception 1, DR6.BS, after one instruction completes (an instruction
//                        that exits for I/O or MMIO reports its step on the following run())
//   instruction bp       exception 1, DR6.Bn, before the instruction at DRn runs; resuming at
//                        the same RIP does not hit it again (the RF flag's job on hardware)
//   data bp              exception 1, DR6.Bn, after the accessing instruction completes
//   int3 (USE_SW_BP)     exception 3, RIP left on the int3 (cpu side: debug.cc)
// debug.arch.pc is the linear RIP; dr7 echoes what the debugger set.
#include <cerrno>

#include <fmt/format.h>

#include "vmm/emu/emu_vm.h"
#include "vmm/emu/flags.h"

namespace kvpc {
namespace {

constexpr uint64_t kDr6Fixed = 0xFFFF0FF0;  // DR6 reserved bits read as ones
constexpr uint64_t kDr6SingleStep = 1ULL << 14;

kvm_segment to_kvm(const emu::Segment& s, bool system) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.present = 1;
  k.dpl = s.dpl;
  k.db = s.big ? 1 : 0;
  k.s = system ? 0 : 1;
  k.l = s.long_mode ? 1 : 0;
  k.g = s.limit > 0xFFFFF ? 1 : 0;
  return k;
}

emu::Segment from_kvm(const kvm_segment& k) {
  emu::Segment s;
  s.selector = k.selector;
  s.base = k.base;
  s.limit = k.limit;
  s.type = k.type;
  s.dpl = k.dpl;
  s.long_mode = k.l != 0;
  s.big = k.db != 0;
  return s;
}

}  // namespace

Status EmuVcpu::get_regs(kvm_regs& out) {
  const emu::CpuRegs& r = cpu_->regs();
  out = kvm_regs{};
  out.rax = r.gpr[emu::kRax];
  out.rbx = r.gpr[emu::kRbx];
  out.rcx = r.gpr[emu::kRcx];
  out.rdx = r.gpr[emu::kRdx];
  out.rsi = r.gpr[emu::kRsi];
  out.rdi = r.gpr[emu::kRdi];
  out.rsp = r.gpr[emu::kRsp];
  out.rbp = r.gpr[emu::kRbp];
  out.r8 = r.gpr[8];
  out.r9 = r.gpr[9];
  out.r10 = r.gpr[10];
  out.r11 = r.gpr[11];
  out.r12 = r.gpr[12];
  out.r13 = r.gpr[13];
  out.r14 = r.gpr[14];
  out.r15 = r.gpr[15];
  out.rip = r.rip;
  out.rflags = r.rflags;
  return ok_status();
}

Status EmuVcpu::set_regs(const kvm_regs& in) {
  emu::CpuRegs& r = cpu_->regs();
  r.gpr[emu::kRax] = in.rax;
  r.gpr[emu::kRbx] = in.rbx;
  r.gpr[emu::kRcx] = in.rcx;
  r.gpr[emu::kRdx] = in.rdx;
  r.gpr[emu::kRsi] = in.rsi;
  r.gpr[emu::kRdi] = in.rdi;
  r.gpr[emu::kRsp] = in.rsp;
  r.gpr[emu::kRbp] = in.rbp;
  r.gpr[8] = in.r8;
  r.gpr[9] = in.r9;
  r.gpr[10] = in.r10;
  r.gpr[11] = in.r11;
  r.gpr[12] = in.r12;
  r.gpr[13] = in.r13;
  r.gpr[14] = in.r14;
  r.gpr[15] = in.r15;
  r.rip = in.rip;
  r.rflags = (in.rflags & emu::kWritableFlags) | 2;
  return ok_status();
}

Status EmuVcpu::get_sregs(kvm_sregs& out) {
  const emu::CpuRegs& r = cpu_->regs();
  out = kvm_sregs{};
  out.es = to_kvm(r.seg[emu::kEs], false);
  out.cs = to_kvm(r.seg[emu::kCs], false);
  out.ss = to_kvm(r.seg[emu::kSs], false);
  out.ds = to_kvm(r.seg[emu::kDs], false);
  out.fs = to_kvm(r.seg[emu::kFs], false);
  out.gs = to_kvm(r.seg[emu::kGs], false);
  out.tr = to_kvm(r.tr, true);
  out.ldt.unusable = 1;  // no LDT support in the interpreter
  out.gdt.base = r.gdtr.base;
  out.gdt.limit = r.gdtr.limit;
  out.idt.base = r.idtr.base;
  out.idt.limit = r.idtr.limit;
  out.cr0 = r.cr0;
  out.cr2 = r.cr2;
  out.cr3 = r.cr3;
  out.cr4 = r.cr4;
  out.efer = r.efer;
  return ok_status();
}

Status EmuVcpu::set_sregs(const kvm_sregs& in) {
  emu::CpuRegs& r = cpu_->regs();
  r.seg[emu::kEs] = from_kvm(in.es);
  r.seg[emu::kCs] = from_kvm(in.cs);
  r.seg[emu::kSs] = from_kvm(in.ss);
  r.seg[emu::kDs] = from_kvm(in.ds);
  r.seg[emu::kFs] = from_kvm(in.fs);
  r.seg[emu::kGs] = from_kvm(in.gs);
  r.tr = from_kvm(in.tr);
  r.gdtr = {in.gdt.base, in.gdt.limit};
  r.idtr = {in.idt.base, in.idt.limit};
  r.cr0 = in.cr0;
  r.cr2 = in.cr2;
  r.cr3 = in.cr3;
  r.cr4 = in.cr4;
  r.efer = in.efer;
  cpu_->registers_changed();
  return ok_status();
}

Status EmuVcpu::set_guest_debug(const kvm_guest_debug& debug) {
  constexpr uint32_t kKnown = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_SW_BP |
                              KVM_GUESTDBG_USE_HW_BP;
  if ((debug.control & ~kKnown) != 0) {
    return make_error(fmt::format("emu: KVM_SET_GUEST_DEBUG control {:#x} asks for features the interpreter lacks "
                                  "(only ENABLE, SINGLESTEP, USE_SW_BP, USE_HW_BP)",
                                  debug.control));
  }
  const bool enable = (debug.control & KVM_GUESTDBG_ENABLE) != 0;
  emu::DebugSetup setup;
  if (enable) {
    setup.intercept_int3 = (debug.control & KVM_GUESTDBG_USE_SW_BP) != 0;
    setup.hw_breakpoints = (debug.control & KVM_GUESTDBG_USE_HW_BP) != 0;
    for (int i = 0; i < 4; ++i) setup.dr[static_cast<size_t>(i)] = debug.arch.debugreg[i];
    setup.dr7 = debug.arch.debugreg[7];
  }
  cpu_->set_debug(setup);
  single_step_ = enable && (debug.control & KVM_GUESTDBG_SINGLESTEP) != 0;
  // int3 interception alone keeps the fast loop: step() reports it by itself.
  debugging_ = single_step_ || setup.hw_breakpoints;
  owed_dr6_ = 0;
  resume_rip_ = ~0ULL;
  return ok_status();
}

int EmuVcpu::debug_exit(uint64_t dr6) {
  run_->exit_reason = KVM_EXIT_DEBUG;
  run_->debug.arch.exception = 1;
  run_->debug.arch.pc = cpu_->linear_rip();
  run_->debug.arch.dr6 = kDr6Fixed | dr6;
  run_->debug.arch.dr7 = 0;
  return 0;
}

int EmuVcpu::run_debugging() {
  using emu::StepResult;
  const uint64_t step_bit = single_step_ ? kDr6SingleStep : 0;
  if (cpu_->has_pending_completion()) {
    // Finishes the IN / MMIO read that exited; the instruction's step ends now.
    StepResult r = cpu_->step();
    if (r == StepResult::kExit || r == StepResult::kShutdown) return 0;
    const uint64_t hits = cpu_->take_data_breakpoint_hits();
    if (hits != 0 || step_bit != 0) return debug_exit(hits | step_bit);
  }
  if (owed_dr6_ != 0) {
    const uint64_t dr6 = owed_dr6_;
    owed_dr6_ = 0;
    return debug_exit(dr6);
  }
  if (run_->immediate_exit) {
    run_->exit_reason = KVM_EXIT_INTR;
    return -EINTR;
  }
  for (;;) {
    if (kicked_.exchange(false, std::memory_order_acq_rel)) {
      run_->exit_reason = KVM_EXIT_INTR;
      return -EINTR;
    }
    const uint64_t rip = cpu_->regs().rip;
    if (!cpu_->halted()) {
      const uint32_t fault_hits = cpu_->instruction_breakpoint_hits();
      if (fault_hits != 0 && rip != resume_rip_) {
        resume_rip_ = rip;
        return debug_exit(fault_hits);
      }
    }
    resume_rip_ = ~0ULL;
    const uint64_t retired = cpu_->instructions();
    cpu_->take_data_breakpoint_hits();
    StepResult r = cpu_->step();
    if (r == StepResult::kShutdown) return 0;
    const bool finished_one = cpu_->instructions() != retired;
    if (r == StepResult::kExit) {
      if (run_->exit_reason == KVM_EXIT_DEBUG || cpu_->has_pending_completion()) return 0;
      // OUT or MMIO write: complete already; its #DB follows on the next run().
      owed_dr6_ = cpu_->take_data_breakpoint_hits() | (finished_one ? step_bit : 0);
      return 0;
    }
    const uint64_t hits = cpu_->take_data_breakpoint_hits();
    if (hits != 0) return debug_exit(hits | (finished_one ? step_bit : 0));
    if (finished_one && step_bit != 0) return debug_exit(step_bit);
    if (r == StepResult::kHalt && !finished_one) {
      machine_.wait([&] { return kicked_.load(std::memory_order_acquire) || cpu_->interrupt_ready(); });
    }
  }
}

}  // namespace kvpc
