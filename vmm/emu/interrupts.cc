// Delivery of exceptions and interrupts through the IDT, double and triple faults, iret.
//
// 64-bit mode: 16-byte interrupt/trap gates, stack switch to TSS.RSP0..2 on a privilege
// change or to TSS.IST1..7 when the gate names one, SS:RSP always pushed.
// 32-bit protected mode: 8-byte 32-bit interrupt/trap gates, stack switch from TSS.SS0:ESP0.
// Real mode: the IVT at IDTR.base (4-byte entries), FLAGS/CS/IP pushed as words.
// Task gates and 16-bit gates are not supported (#GP).
#include "vmm/emu/cpu.h"
#include "vmm/emu/flags.h"

namespace kvpc::emu {
namespace {

bool has_error_code(uint8_t vector) {
  return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

struct DeliveryScope {
  explicit DeliveryScope(bool& flag) : flag_(flag), saved_(flag) { flag_ = true; }
  ~DeliveryScope() { flag_ = saved_; }
  bool& flag_;
  bool saved_;
};

}  // namespace

uint64_t Cpu::read_descriptor(uint16_t selector) {
  const uint32_t err = selector & 0xFFFC;
  if (selector & 4) throw GuestFault{13, true, err};  // no LDT support
  if ((selector & 0xFFF8) == 0) throw GuestFault{13, true, 0};
  if ((selector & 0xFFF8) + 7u > r_.gdtr.limit) throw GuestFault{13, true, err};
  return read_mem(r_.gdtr.base + (selector & 0xFFF8), 8, Access::kRead, true);
}

StepResult Cpu::raise(const GuestFault& fault) {
  halted_ = false;
  try {
    deliver(fault.vector, Event::kException, fault.has_error, fault.error);
    return StepResult::kContinue;
  } catch (const GuestFault&) {
    if (fault.vector == 8) {
      run_->exit_reason = KVM_EXIT_SHUTDOWN;
      return StepResult::kShutdown;
    }
  }
  // A fault while delivering a fault: #DF (error code 0). A fault delivering #DF: shutdown.
  try {
    deliver(8, Event::kException, true, 0);
    return StepResult::kContinue;
  } catch (const GuestFault&) {
    run_->exit_reason = KVM_EXIT_SHUTDOWN;
    return StepResult::kShutdown;
  }
}

void Cpu::deliver(uint8_t vector, Event kind, bool has_error, uint32_t error) {
  DeliveryScope scope(delivering_);
  if (kind == Event::kException && !has_error_code(vector)) has_error = false;
  if (real_mode()) deliver_real(vector);
  else if (r_.efer & kEferLma) deliver64(vector, kind, has_error, error);
  else deliver32(vector, kind, has_error, error);
  halted_ = false;
}

void Cpu::deliver64(uint8_t vector, Event kind, bool has_error, uint32_t error) {
  const uint32_t gate_err = vector * 8u + 2u + (kind == Event::kExternal ? 1u : 0u);
  if (vector * 16u + 15u > r_.idtr.limit) throw GuestFault{13, true, gate_err};
  const uint64_t gate = r_.idtr.base + vector * 16u;
  const uint64_t lo = read_mem(gate, 8, Access::kRead, true);
  const uint64_t hi = read_mem(gate + 8, 8, Access::kRead, true);
  const unsigned type = (lo >> 40) & 0xF;
  const unsigned gate_dpl = (lo >> 45) & 3;
  if (type != 0xE && type != 0xF) throw GuestFault{13, true, gate_err};
  if (kind == Event::kSoftware && gate_dpl < static_cast<unsigned>(cpl())) throw GuestFault{13, true, gate_err};
  if (!(lo & (1ULL << 47))) throw GuestFault{11, true, gate_err};
  const uint16_t sel = static_cast<uint16_t>(lo >> 16);
  const uint64_t target = (lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16) | ((hi & 0xFFFFFFFF) << 32);
  const unsigned ist = (lo >> 32) & 7;
  Segment cs = load_segment(sel, true);
  if (!cs.long_mode) throw GuestFault{13, true, static_cast<uint32_t>(sel & 0xFFFC)};
  const int new_cpl = (cs.type & 4) ? cpl() : cs.dpl;  // conforming code keeps CPL
  if (new_cpl > cpl()) throw GuestFault{13, true, static_cast<uint32_t>(sel & 0xFFFC)};

  uint64_t rsp = r_.gpr[kRsp];
  if (ist != 0) {
    rsp = read_mem(r_.tr.base + 0x24 + (ist - 1) * 8, 8, Access::kRead, true);
  } else if (new_cpl < cpl()) {
    rsp = read_mem(r_.tr.base + 4 + static_cast<uint64_t>(new_cpl) * 8, 8, Access::kRead, true);
  }
  rsp &= ~0xFULL;
  // Frame: SS, RSP, RFLAGS, CS, RIP, [error]. Written as supervisor accesses.
  const uint64_t frame[6] = {r_.seg[kSs].selector, r_.gpr[kRsp], r_.rflags, r_.seg[kCs].selector, r_.rip, error};
  const int n = has_error ? 6 : 5;
  for (int i = 0; i < n; ++i) write_mem(rsp - 8 * static_cast<uint64_t>(i + 1), 8, frame[i], true);
  // Commit.
  if (new_cpl != cpl()) {
    Segment ss;  // null SS with RPL = new CPL, as the architecture loads on a 64-bit switch
    ss.selector = static_cast<uint16_t>(new_cpl);
    r_.seg[kSs] = ss;
  }
  cs.selector = static_cast<uint16_t>((sel & 0xFFFC) | new_cpl);
  r_.seg[kCs] = cs;
  r_.gpr[kRsp] = rsp - 8 * static_cast<uint64_t>(n);
  if (type == 0xE) r_.rflags &= ~kIF;
  r_.rflags &= ~(kTF | kNT | kRF | (1ULL << 17));
  r_.rip = target;
  update_mode();
}

void Cpu::deliver32(uint8_t vector, Event kind, bool has_error, uint32_t error) {
  const uint32_t gate_err = vector * 8u + 2u + (kind == Event::kExternal ? 1u : 0u);
  if (vector * 8u + 7u > r_.idtr.limit) throw GuestFault{13, true, gate_err};
  const uint64_t lo = read_mem(r_.idtr.base + vector * 8u, 8, Access::kRead, true);
  const unsigned type = (lo >> 40) & 0xF;
  const unsigned gate_dpl = (lo >> 45) & 3;
  if (type != 0xE && type != 0xF) throw GuestFault{13, true, gate_err};
  if (kind == Event::kSoftware && gate_dpl < static_cast<unsigned>(cpl())) throw GuestFault{13, true, gate_err};
  if (!(lo & (1ULL << 47))) throw GuestFault{11, true, gate_err};
  const uint16_t sel = static_cast<uint16_t>(lo >> 16);
  const uint32_t target = static_cast<uint32_t>((lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16));
  Segment cs = load_segment(sel, true);
  const int new_cpl = (cs.type & 4) ? cpl() : cs.dpl;
  if (new_cpl > cpl()) throw GuestFault{13, true, static_cast<uint32_t>(sel & 0xFFFC)};

  uint32_t frame[7];
  int n = 0;
  Segment new_ss = r_.seg[kSs];
  uint64_t esp = r_.gpr[kRsp] & 0xFFFFFFFF;
  if (new_cpl < cpl()) {
    const uint64_t slot = r_.tr.base + 4 + static_cast<uint64_t>(new_cpl) * 8;
    esp = read_mem(slot, 4, Access::kRead, true);
    const uint16_t ss_sel = static_cast<uint16_t>(read_mem(slot + 4, 2, Access::kRead, true));
    new_ss = load_segment(ss_sel, false);
    frame[n++] = r_.seg[kSs].selector;
    frame[n++] = static_cast<uint32_t>(r_.gpr[kRsp]);
  }
  frame[n++] = static_cast<uint32_t>(r_.rflags);
  frame[n++] = r_.seg[kCs].selector;
  frame[n++] = static_cast<uint32_t>(r_.rip);
  if (has_error) frame[n++] = error;
  for (int i = 0; i < n; ++i) {
    write_mem(static_cast<uint32_t>(new_ss.base + esp - 4 * static_cast<uint64_t>(i + 1)), 4, frame[i], true);
  }
  r_.seg[kSs] = new_ss;
  cs.selector = static_cast<uint16_t>((sel & 0xFFFC) | new_cpl);
  r_.seg[kCs] = cs;
  r_.gpr[kRsp] = static_cast<uint32_t>(esp - 4 * static_cast<uint64_t>(n));
  if (type == 0xE) r_.rflags &= ~kIF;
  r_.rflags &= ~(kTF | kNT | kRF | (1ULL << 17));
  r_.rip = target;
  update_mode();
}

void Cpu::deliver_real(uint8_t vector) {
  // Real mode: 4-byte IVT entries (offset, segment); no error codes; IF, TF and AC cleared.
  if (vector * 4u + 3u > r_.idtr.limit) throw GuestFault{13, true, 0};
  const uint64_t entry = read_mem(static_cast<uint32_t>(r_.idtr.base + vector * 4u), 4, Access::kRead, true);
  push(r_.rflags & 0xFFFF, 2);
  push(r_.seg[kCs].selector, 2);
  push(r_.rip & 0xFFFF, 2);
  Segment cs = r_.seg[kCs];
  cs.selector = static_cast<uint16_t>(entry >> 16);
  cs.base = static_cast<uint64_t>(cs.selector) << 4;
  cs.limit = 0xFFFF;
  cs.big = false;
  cs.long_mode = false;
  r_.seg[kCs] = cs;
  r_.rflags &= ~(kIF | kTF | kAC);
  r_.rip = entry & 0xFFFF;
  update_mode();
}

void Cpu::exec_iret(const Insn& in) {
  const int size = in.osz;  // 8 for iretq, 4 for iret(d), 2 for a 16-bit iret
  if (real_mode()) {
    const uint64_t ip = read_stack(0, size);
    const uint16_t sel = static_cast<uint16_t>(read_stack(static_cast<uint64_t>(size), size));
    const uint64_t flags = read_stack(2 * static_cast<uint64_t>(size), size);
    uint64_t writable = kWritableFlags;
    if (size == 2) writable &= 0xFFFF;
    r_.rflags = (r_.rflags & ~writable) | (flags & writable) | 2;
    r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | ((r_.gpr[kRsp] + 3 * static_cast<uint64_t>(size)) & sp_mask());
    Segment cs = r_.seg[kCs];
    cs.selector = sel;
    cs.base = static_cast<uint64_t>(sel) << 4;
    cs.limit = 0xFFFF;
    cs.big = false;
    cs.long_mode = false;
    r_.seg[kCs] = cs;
    update_mode();
    r_.rip = ip & (size == 2 ? 0xFFFF : 0xFFFFFFFF);
    return;
  }
  const uint64_t new_rip = read_stack(0, size);
  const uint16_t new_cs = static_cast<uint16_t>(read_stack(static_cast<uint64_t>(size), size));
  const uint64_t new_flags = read_stack(2 * static_cast<uint64_t>(size), size);
  const int new_cpl = new_cs & 3;
  if (new_cpl < cpl()) throw GuestFault{13, true, static_cast<uint32_t>(new_cs & 0xFFFC)};
  const bool long_mode = code_bits_ == 64;
  // 64-bit mode always pops SS:RSP; 32-bit mode only when returning to an outer level.
  const bool pop_stack = long_mode || new_cpl > cpl();
  uint64_t new_rsp = 0;
  uint16_t new_ss = 0;
  if (pop_stack) {
    new_rsp = read_stack(3 * static_cast<uint64_t>(size), size);
    new_ss = static_cast<uint16_t>(read_stack(4 * static_cast<uint64_t>(size), size));
  }
  Segment cs = load_segment(new_cs, true);
  Segment ss = r_.seg[kSs];
  if (pop_stack) {
    if ((new_ss & 0xFFFC) == 0 && long_mode && new_cpl < 3) {
      ss = Segment{};
      ss.selector = new_ss;
    } else {
      ss = load_segment(new_ss, false);
    }
  }
  // Commit.
  uint64_t writable = kWritableFlags;
  const unsigned iopl = static_cast<unsigned>((r_.rflags >> 12) & 3);
  if (cpl() != 0) writable &= ~kIOPL;
  if (static_cast<unsigned>(cpl()) > iopl) writable &= ~kIF;
  if (size == 4) writable &= 0xFFFFFFFF;
  r_.rflags = (r_.rflags & ~writable) | (new_flags & writable) | 2;
  cs.selector = new_cs;
  r_.seg[kCs] = cs;
  if (pop_stack) {
    r_.seg[kSs] = ss;
    r_.gpr[kRsp] = size == 8 ? new_rsp : (new_rsp & 0xFFFFFFFF);
  } else {
    r_.gpr[kRsp] = (r_.gpr[kRsp] + 3 * static_cast<uint64_t>(size)) & 0xFFFFFFFF;
  }
  update_mode();
  r_.rip = code_bits_ == 64 ? new_rip : (new_rip & 0xFFFFFFFF);
}

}  // namespace kvpc::emu
