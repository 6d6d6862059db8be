#include "vmm/emu/cpu.h"

#include <cstring>

#include <fmt/format.h>

#include "vmm/emu/flags.h"

namespace kvpc::emu {

Cpu::Cpu(Machine& machine, kvm_run* run, uint32_t index) : machine_(machine), run_(run), index_(index) {}

Status Cpu::set_entry_state(const CpuEntryState& s) {
  using Mode = CpuEntryState::Mode;
  r_ = CpuRegs{};
  r_.gpr[kRax] = s.rax;
  r_.gpr[kRbx] = s.rbx;
  r_.gpr[kRcx] = s.rcx;
  r_.gpr[kRdx] = s.rdx;
  r_.gpr[kRsi] = s.rsi;
  r_.gpr[kRdi] = s.rdi;
  r_.gpr[kRbp] = s.rbp;
  r_.gpr[kRsp] = s.rsp;
  r_.rip = s.rip;
  r_.rflags = (s.rflags & kWritableFlags) | 2;
  r_.gdtr = {s.gdt_base, s.gdt_limit};
  r_.idtr = {s.idt_base, s.idt_limit};
  Segment data;  // flat, 4 GiB, DPL0
  data.type = 3;
  if (s.mode == Mode::kReal16) {
    // Real mode as after RESET (or a loader's CS:IP): 64 KiB segments, 16-bit code, the IVT
    // at 0 (IDTR limit 0x3FF), CR0 = ET only.
    r_.cr0 = 0x10;
    r_.idtr = {0, 0x3FF};
    r_.gdtr = {0, 0xFFFF};
    Segment code;
    code.selector = s.cs_selector;
    code.base = s.cs_base;
    code.limit = 0xFFFF;
    code.type = 0xB;
    code.big = false;
    r_.seg[kCs] = code;
    data.selector = s.data_selector;
    data.base = static_cast<uint64_t>(s.data_selector) << 4;
    data.limit = 0xFFFF;
    data.big = false;
    r_.tr.limit = 0xFFFF;
    r_.tr.type = 0xB;
  } else if (s.mode == Mode::kLong64) {
    r_.cr0 = 0x80050033;
    r_.cr3 = s.cr3;
    r_.cr4 = 0x6a0;
    r_.efer = 0xd01;
    Segment code;
    code.selector = s.code_selector;
    code.type = 0xB;
    code.long_mode = true;
    code.big = false;
    r_.seg[kCs] = code;
    data.selector = s.data_selector64;
    r_.tr.selector = s.tss_selector;
    r_.tr.base = s.tss_base;
    r_.tr.limit = s.tss_limit;
    r_.tr.type = 0xB;
  } else {
    // Flat 32-bit protected mode as Multiboot specifies: CS/DS base 0, limit 4 GiB.
    r_.cr0 = 0x11;  // PE, ET
    Segment code;
    code.selector = s.code_selector;
    code.type = 0xB;
    code.big = true;
    r_.seg[kCs] = code;
    data.selector = s.data_selector64;
    r_.tr.selector = s.tss_selector;
    r_.tr.base = s.tss_base;
    r_.tr.limit = s.tss_limit;
    r_.tr.type = 0xB;
  }
  for (int i : {kEs, kSs, kDs, kFs, kGs}) r_.seg[i] = data;
  halted_ = false;
  shadow_ = false;
  exit_pending_ = pending_in_ = pending_mmio_ = false;
  update_mode();
  flush_tlb();
  return ok_status();
}

void Cpu::update_mode() {
  if ((r_.efer & kEferLma) && r_.seg[kCs].long_mode) code_bits_ = 64;
  else code_bits_ = r_.seg[kCs].big ? 32 : 16;
}

bool Cpu::interrupt_ready() const {
  return index_ == 0 && (r_.rflags & kIF) && !shadow_ && machine_.pic().intr();
}

StepResult Cpu::step() {
  const bool completing = has_pending_completion();
  // The answer to an IN / MMIO read is consumed by re-running its instruction before any
  // interrupt can intervene, as KVM completes the instruction first.
  if (!completing && interrupt_ready()) {
    halted_ = false;
    uint8_t vector = machine_.pic().acknowledge();
    insn_rip_ = r_.rip;
    try {
      deliver(vector, Event::kExternal, false, 0);
    } catch (const GuestFault&) {
      return raise(GuestFault{8, true, 0});  // failed delivery: #DF (a failing #DF: shutdown)
    }
    return StepResult::kContinue;
  }
  if (halted_) return StepResult::kHalt;
  StepResult result = execute_one();
  // A restarted access that found no matching answer (the code changed under us) must
  // not leave the stale answer for a later, unrelated access.
  if (completing && result != StepResult::kExit) pending_in_ = pending_mmio_ = false;
  return result;
}

StepResult Cpu::execute_one() {
  insn_rip_ = r_.rip;
  const uint64_t saved_rsp = r_.gpr[kRsp];
  const bool was_shadowed = shadow_;
  shadow_ = false;
  exit_pending_ = false;
  exit_requested_ = false;
  uint8_t window[15];
  size_t have = 0;
  try {
    Insn in;
    uint64_t lin = linear(kCs, r_.rip);
    have = fetch_window(lin, window, 15);
    DecodeStatus st = decode(window, have, code_bits_, in);
    if (st == DecodeStatus::kNeedMore) {
      // The instruction crosses into the next page: fetch it too (it may fault).
      size_t more = fetch_window(lin + have, window + have, 15 - have);
      have += more;
      st = decode(window, have, code_bits_, in);
    }
    if (st != DecodeStatus::kOk) throw Unsupported{};
    r_.rip = code_bits_ == 64 ? r_.rip + in.len : static_cast<uint32_t>(r_.rip + in.len);
    ++instructions_;
    execute(in);
    if (exit_requested_) {  // as the ExitRequest handler below, without the unwind
      r_.rip = insn_rip_;
      r_.gpr[kRsp] = saved_rsp;
      shadow_ = was_shadowed;
      return StepResult::kExit;
    }
  } catch (const GuestFault& f) {
    r_.rip = insn_rip_;
    r_.gpr[kRsp] = saved_rsp;
    shadow_ = false;
    if (exit_pending_) {
      // The instruction wrote to MMIO and then faulted: the write happened (as on
      // hardware), so deliver the fault now and still report the write exit.
      StepResult res = raise(f);
      return res == StepResult::kShutdown ? res : StepResult::kExit;
    }
    return raise(f);
  } catch (const ExitRequest&) {
    r_.rip = insn_rip_;
    r_.gpr[kRsp] = saved_rsp;
    shadow_ = was_shadowed;
    return StepResult::kExit;
  } catch (const Unsupported&) {
    r_.rip = insn_rip_;
    r_.gpr[kRsp] = saved_rsp;
    shadow_ = was_shadowed;
    fill_emulation_failure(window, have);
    return StepResult::kExit;
  }
  if (exit_pending_) return StepResult::kExit;
  return halted_ ? StepResult::kHalt : StepResult::kContinue;
}

void Cpu::fill_emulation_failure(const uint8_t* bytes, size_t len) {
  run_->exit_reason = KVM_EXIT_INTERNAL_ERROR;
  run_->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  run_->emulation_failure.ndata = 3;  // flags + insn_size/insn_bytes (two u64 words)
  run_->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
  size_t n = len < 15 ? len : 15;
  run_->emulation_failure.insn_size = static_cast<uint8_t>(n);
  std::memset(run_->emulation_failure.insn_bytes, 0, 15);
  if (n) std::memcpy(run_->emulation_failure.insn_bytes, bytes, n);
}

uint64_t Cpu::reg(unsigned index, int size) const {
  switch (size) {
    case 1:
      return index >= 4 && index < 8 && !rex_seen_ ? (r_.gpr[index - 4] >> 8) & 0xFF : r_.gpr[index] & 0xFF;
    case 2: return r_.gpr[index] & 0xFFFF;
    case 4: return r_.gpr[index] & 0xFFFFFFFF;
    default: return r_.gpr[index];
  }
}

void Cpu::set_reg(unsigned index, int size, uint64_t value) {
  uint64_t& g = r_.gpr[index];
  switch (size) {
    case 1:
      if (index >= 4 && index < 8 && !rex_seen_) {
        uint64_t& h = r_.gpr[index - 4];
        h = (h & ~0xFF00ULL) | ((value & 0xFF) << 8);
      } else {
        g = (g & ~0xFFULL) | (value & 0xFF);
      }
      break;
    case 2: g = (g & ~0xFFFFULL) | (value & 0xFFFF); break;
    case 4: g = value & 0xFFFFFFFF; break;  // 32-bit writes zero-extend
    default: g = value; break;
  }
}

uint64_t Cpu::effective_address(const Insn& in) const {
  uint64_t a = static_cast<uint64_t>(in.disp);
  if (in.rip_relative) a += r_.rip;  // RIP already points past the instruction
  if (in.base >= 0) a += r_.gpr[in.base];
  if (in.index >= 0) a += r_.gpr[in.index] << in.scale;
  if (in.asz == 4) a &= 0xFFFFFFFF;
  else if (in.asz == 2) a &= 0xFFFF;
  return a;
}

uint64_t Cpu::linear(int seg, uint64_t offset) const {
  if (code_bits_ == 64) return (seg == kFs || seg == kGs) ? offset + r_.seg[seg].base : offset;
  return static_cast<uint32_t>(offset + r_.seg[seg].base);
}

uint64_t Cpu::mem_address(const Insn& in) const {
  int seg = in.seg;
  if (seg < 0) seg = (in.base == kRsp || in.base == kRbp) ? kSs : kDs;
  return linear(seg, effective_address(in));
}

uint64_t Cpu::rm_read(const Insn& in, int size) {
  if (in.mod == 3) return reg(in.rm, size);
  return read_mem(mem_address(in), size);
}

void Cpu::rm_write(const Insn& in, int size, uint64_t value) {
  if (in.mod == 3) return set_reg(in.rm, size, value);
  write_mem(mem_address(in), size, value);
}

int Cpu::stack_size(const Insn& in) const {
  if (code_bits_ == 64) return in.opsize_prefix ? 2 : 8;
  return in.osz;  // 16-bit code pushes words unless 0x66 says dwords, 32-bit code the reverse
}

uint64_t Cpu::sp_mask() const { return code_bits_ == 64 ? ~0ULL : (r_.seg[kSs].big ? 0xFFFFFFFFULL : 0xFFFFULL); }

void Cpu::push(uint64_t value, int size) {
  uint64_t sp = (r_.gpr[kRsp] - static_cast<uint64_t>(size)) & sp_mask();
  write_mem(linear(kSs, sp), size, value);
  r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | sp;
}

uint64_t Cpu::read_stack(uint64_t offset_from_sp, int size) {
  uint64_t sp = (r_.gpr[kRsp] + offset_from_sp) & sp_mask();
  return read_mem(linear(kSs, sp), size);
}

uint64_t Cpu::pop(int size) {
  uint64_t v = read_stack(0, size);
  uint64_t sp = (r_.gpr[kRsp] + static_cast<uint64_t>(size)) & sp_mask();
  r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | sp;
  return v;
}

bool Cpu::condition(unsigned cc) const {
  const uint64_t f = r_.rflags;
  bool res;
  switch ((cc >> 1) & 7) {
    case 0: res = f & kOF; break;
    case 1: res = f & kCF; break;
    case 2: res = f & kZF; break;
    case 3: res = (f & kCF) || (f & kZF); break;
    case 4: res = f & kSF; break;
    case 5: res = f & kPF; break;
    case 6: res = ((f & kSF) != 0) != ((f & kOF) != 0); break;
    default: res = (f & kZF) || (((f & kSF) != 0) != ((f & kOF) != 0)); break;
  }
  return (cc & 1) ? !res : res;
}

void Cpu::jump(uint64_t target, int osz) {
  if (code_bits_ != 64) target &= osz == 2 ? 0xFFFF : 0xFFFFFFFF;
  else if (static_cast<uint64_t>(static_cast<int64_t>(target << 16) >> 16) != target) {
    throw GuestFault{13, true, 0};  // non-canonical target
  }
  r_.rip = target;
}

void Cpu::execute(const Insn& in) {
  rex_seen_ = in.rex != 0;
  const uint16_t op = in.op;
  if (code_bits_ != 64 && is_legacy_op(op)) return exec_legacy(in);
  if (op < 0x100) {
    if (op < 0x40 || (op >= 0x80 && op <= 0x85) || op == 0xA8 || op == 0xA9) return exec_alu_group(in);
    if (op < 0x50) return exec_unary_group(in);  // inc/dec r32 (32-bit mode)
    if (op == 0xF6 || op == 0xF7 || op == 0xFE) return exec_unary_group(in);
    if (op == 0xFF) return in.opreg() <= 1 ? exec_unary_group(in) : exec_flow(in);
    if (op == 0xC0 || op == 0xC1 || (op >= 0xD0 && op <= 0xD3)) return exec_shift(in);
    if (op == 0x69 || op == 0x6B) return exec_imul(in);
    if (op == 0x86 || op == 0x87 || (op >= 0x91 && op <= 0x97)) return exec_atomic(in);
    if ((op >= 0xA4 && op <= 0xA7) || (op >= 0xAA && op <= 0xAF) || (op >= 0x6C && op <= 0x6F)) {
      return exec_string(in);
    }
    if (op == 0xE4 || op == 0xE5 || op == 0xE6 || op == 0xE7 || (op >= 0xEC && op <= 0xEF) || op == 0xF4 ||
        (op >= 0xF8 && op <= 0xFD) || op == 0xF5 || op == 0xCC || op == 0xCD || op == 0x8E || op == 0x8C) {
      return exec_system(in);
    }
    if (op == 0xCF) return exec_iret(in);
    if (op == 0x88 || op == 0x89 || op == 0x8A || op == 0x8B || op == 0xC6 || op == 0xC7 || op == 0x8D ||
        (op >= 0xB0 && op <= 0xBF) || (op >= 0xA0 && op <= 0xA3) || op == 0x63 || op == 0x98 || op == 0x99 ||
        op == 0x90 || op == 0x9E || op == 0x9F) {
      return exec_move(in);
    }
    return exec_flow(in);
  }
  const uint8_t b = static_cast<uint8_t>(op & 0xFF);
  if (b == 0xAF) return exec_imul(in);
  if (b == 0xA4 || b == 0xA5 || b == 0xAC || b == 0xAD) return exec_double_shift(in);
  if (b == 0xA3 || b == 0xAB || b == 0xB3 || b == 0xBB || b == 0xBA || b == 0xBC || b == 0xBD || b >= 0xC8) {
    return exec_bits(in);
  }
  if (b == 0xB0 || b == 0xB1 || b == 0xC0 || b == 0xC1) return exec_atomic(in);
  if ((b >= 0x40 && b <= 0x4F) || b == 0xB6 || b == 0xB7 || b == 0xBE || b == 0xBF) return exec_move(in);
  if ((b >= 0x80 && b <= 0x9F) || b == 0x1F) return exec_flow(in);
  return exec_system(in);
}

std::string Cpu::dump() const {
  static constexpr const char* kNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                             "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out += fmt::format("{:>3}={:016x}{}", kNames[i], r_.gpr[i], (i % 4 == 3) ? "\n" : "  ");
  }
  out += fmt::format("rip={:016x}  rflags={:08x}  cpl={}  mode={}-bit{}\n", r_.rip, r_.rflags, cpl(), code_bits_,
                     halted_ ? " (halted)" : "");
  out += fmt::format("cr0={:08x}  cr2={:016x}  cr3={:016x}  cr4={:08x}  efer={:04x}\n", r_.cr0, r_.cr2, r_.cr3,
                     r_.cr4, r_.efer);
  out += fmt::format("cs={:04x} ss={:04x} ds={:04x} es={:04x} fs={:04x} (base {:x}) gs={:04x} (base {:x}) tr={:04x}\n",
                     r_.seg[kCs].selector, r_.seg[kSs].selector, r_.seg[kDs].selector, r_.seg[kEs].selector,
                     r_.seg[kFs].selector, r_.seg[kFs].base, r_.seg[kGs].selector, r_.seg[kGs].base,
                     r_.tr.selector);
  out += fmt::format("gdt={:x}/{:x}  idt={:x}/{:x}\n", r_.gdtr.base, r_.gdtr.limit, r_.idtr.base, r_.idtr.limit);
  return out;
}

}  // namespace kvpc::emu
