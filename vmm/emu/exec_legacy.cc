// Instructions that exist only outside 64-bit mode, or that firmware needs to move between
// real mode, 16-bit and 32-bit protected mode: far jmp/call/ret, segment register pushes and
// loads (push/pop es/cs/ss/ds/fs/gs, les/lds/lss/lfs/lgs), pusha/popa, enter, and the
// 286-era CR0 accessors smsw/lmsw/clts.
//
// Far transfers read every operand and build the new CS before they push or commit
// anything, so a fault (or a descriptor that is not present) leaves the old state intact
// apart from stack bytes below RSP, which execute_one() already restores RSP over.
// Privilege changes through far call/ret (call gates, returns to an outer ring) are not
// emulated: firmware runs at CPL 0 throughout; they are reported as emulation failures.
#include "vmm/emu/cpu.h"
#include "vmm/emu/flags.h"

namespace kvpc::emu {

bool Cpu::is_legacy_op(uint16_t op) {
  switch (op) {
    case 0x06: case 0x07: case 0x0E: case 0x16: case 0x17: case 0x1E: case 0x1F:
    case 0x60: case 0x61: case 0x9A: case 0xC4: case 0xC5: case 0xC8: case 0xCA: case 0xCB: case 0xEA:
    case 0x0FA0: case 0x0FA1: case 0x0FA8: case 0x0FA9: case 0x0FB2: case 0x0FB4: case 0x0FB5: case 0x0F06:
      return true;
    default:
      return false;
  }
}

Segment Cpu::far_code_segment(uint16_t selector) {
  if (real_mode()) {
    Segment cs = r_.seg[kCs];
    cs.selector = selector;
    cs.base = static_cast<uint64_t>(selector) << 4;
    cs.limit = 0xFFFF;
    cs.type = 0xB;
    cs.dpl = 0;
    cs.big = false;  // real-mode code is 16-bit: this is how firmware leaves 32-bit code behind
    cs.long_mode = false;
    return cs;
  }
  Segment cs = load_segment(selector, true);
  const int rpl = selector & 3;
  if (rpl != cpl()) throw Unsupported{};  // inter-privilege far transfers: not emulated
  cs.selector = selector;
  return cs;
}

void Cpu::commit_far(const Segment& cs, uint64_t offset, int osz) {
  r_.seg[kCs] = cs;
  update_mode();
  if (code_bits_ == 64) r_.rip = offset;
  else r_.rip = offset & (osz == 2 ? 0xFFFF : 0xFFFFFFFF);
}

void Cpu::exec_legacy(const Insn& in) {
  const uint16_t op = in.op;
  const int osz = in.osz;
  switch (op) {
    case 0x06: push(r_.seg[kEs].selector, osz); return;
    case 0x0E: push(r_.seg[kCs].selector, osz); return;
    case 0x16: push(r_.seg[kSs].selector, osz); return;
    case 0x1E: push(r_.seg[kDs].selector, osz); return;
    case 0x0FA0: push(r_.seg[kFs].selector, osz); return;
    case 0x0FA8: push(r_.seg[kGs].selector, osz); return;
    case 0x07: case 0x17: case 0x1F: case 0x0FA1: case 0x0FA9: {
      const int seg = op == 0x07 ? kEs : op == 0x17 ? kSs : op == 0x1F ? kDs : op == 0x0FA1 ? kFs : kGs;
      const uint16_t sel = static_cast<uint16_t>(read_stack(0, osz));
      load_data_segment(seg, sel);  // may fault: RSP is not yet moved
      pop(osz);
      if (seg == kSs) shadow_ = true;
      return;
    }
    case 0x60: {  // pusha: AX CX DX BX (original SP) BP SI DI
      const uint64_t sp = reg(kRsp, osz);
      for (unsigned r = 0; r < 8; ++r) push(r == kRsp ? sp : reg(r, osz), osz);
      return;
    }
    case 0x61: {  // popa: the saved SP is skipped
      uint64_t values[8];
      for (int i = 0; i < 8; ++i) values[7 - i] = read_stack(static_cast<uint64_t>(i * osz), osz);
      for (unsigned r = 0; r < 8; ++r) {
        if (r != kRsp) set_reg(r, osz, values[r]);
      }
      r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | ((r_.gpr[kRsp] + 8 * static_cast<uint64_t>(osz)) & sp_mask());
      return;
    }
    case 0xC8: {  // enter imm16, imm8
      const unsigned level = in.imm2 & 31;
      const uint64_t size = in.imm & 0xFFFF;
      push(reg(kRbp, osz), osz);
      const uint64_t frame = reg(kRsp, osz);
      uint64_t bp = reg(kRbp, osz);
      for (unsigned i = 1; i < level; ++i) {
        bp -= static_cast<uint64_t>(osz);
        push(read_mem(linear(kSs, bp & sp_mask()), osz), osz);
      }
      if (level > 0) push(frame, osz);
      set_reg(kRbp, osz, frame);
      r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | ((r_.gpr[kRsp] - size) & sp_mask());
      return;
    }
    case 0xC4: case 0xC5: case 0x0FB2: case 0x0FB4: case 0x0FB5: {  // les lds lss lfs lgs
      const uint64_t lin = mem_address(in);
      const uint64_t offset = read_mem(lin, osz);
      const uint16_t sel = static_cast<uint16_t>(read_mem(lin + static_cast<uint64_t>(osz), 2));
      const int seg = op == 0xC4 ? kEs : op == 0xC5 ? kDs : op == 0x0FB2 ? kSs : op == 0x0FB4 ? kFs : kGs;
      load_data_segment(seg, sel);
      set_reg(in.reg, osz, offset);
      if (seg == kSs) shadow_ = true;
      return;
    }
    case 0xEA: {  // jmp ptr16:16 / ptr16:32
      commit_far(far_code_segment(in.imm2), in.imm, osz);
      return;
    }
    case 0x9A: {  // call ptr16:16 / ptr16:32
      Segment cs = far_code_segment(in.imm2);
      push(r_.seg[kCs].selector, osz);
      push(r_.rip, osz);
      commit_far(cs, in.imm, osz);
      return;
    }
    case 0xFF: {  // FF /3 call far m16:16/32, FF /5 jmp far m16:16/32
      const uint64_t lin = mem_address(in);
      const uint64_t offset = read_mem(lin, osz);
      const uint16_t sel = static_cast<uint16_t>(read_mem(lin + static_cast<uint64_t>(osz), 2));
      Segment cs = far_code_segment(sel);
      if (in.opreg() == 3) {
        push(r_.seg[kCs].selector, osz);
        push(r_.rip, osz);
      }
      commit_far(cs, offset, osz);
      return;
    }
    case 0xCA: case 0xCB: {  // retf [imm16]
      const uint64_t offset = read_stack(0, osz);
      const uint16_t sel = static_cast<uint16_t>(read_stack(static_cast<uint64_t>(osz), osz));
      Segment cs = far_code_segment(sel);
      const uint64_t release = 2 * static_cast<uint64_t>(osz) + (op == 0xCA ? (in.imm & 0xFFFF) : 0);
      r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | ((r_.gpr[kRsp] + release) & sp_mask());
      commit_far(cs, offset, osz);
      return;
    }
    case 0x0F06:  // clts
      if (cpl() != 0) throw GuestFault{13, true, 0};
      r_.cr0 &= ~(1ULL << 3);
      return;
    default:
      throw Unsupported{};
  }
}

}  // namespace kvpc::emu
