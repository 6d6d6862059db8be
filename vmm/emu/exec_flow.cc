// Control flow (jmp/call/ret/jcc/loop/setcc), the stack, and data movement.
#include "vmm/emu/cpu.h"
#include "vmm/emu/flags.h"

namespace kvpc::emu {

void Cpu::exec_flow(const Insn& in) {
  const uint16_t op = in.op;
  const int ssz = stack_size(in);
  if (op >= 0x50 && op <= 0x57) {
    push(reg((op & 7) | ((in.rex & 1) ? 8 : 0), ssz), ssz);
    return;
  }
  if (op >= 0x58 && op <= 0x5F) {
    uint64_t v = pop(ssz);
    set_reg((op & 7) | ((in.rex & 1) ? 8 : 0), ssz, v);
    return;
  }
  if (op >= 0x70 && op <= 0x7F) {
    if (condition(op & 0xF)) jump(r_.rip + in.imm, in.osz);
    return;
  }
  if (op >= 0x0F80 && op <= 0x0F8F) {
    if (condition(op & 0xF)) jump(r_.rip + in.imm, in.osz);
    return;
  }
  if (op >= 0x0F90 && op <= 0x0F9F) {
    rm_write(in, 1, condition(op & 0xF) ? 1 : 0);
    return;
  }
  switch (op) {
    case 0x0F1F: return;  // multi-byte nop
    case 0x68: case 0x6A: push(in.imm, ssz); return;
    case 0x8F: {  // pop r/m: write the destination before committing RSP
      uint64_t v = read_stack(0, ssz);
      const uint64_t old_rsp = r_.gpr[kRsp];
      r_.gpr[kRsp] += static_cast<uint64_t>(ssz);  // an RSP-based address sees the new RSP
      try {
        rm_write(in, ssz, v);
      } catch (...) {
        r_.gpr[kRsp] = old_rsp;
        throw;
      }
      return;
    }
    case 0x9C: {  // pushf: VM and RF read as zero
      push(r_.rflags & ~(kRF | (1ULL << 17)), ssz);
      return;
    }
    case 0x9D: {  // popf: IOPL only at CPL0, IF only when CPL <= IOPL
      uint64_t v = pop(ssz);
      uint64_t writable = kWritableFlags & ~kRF;
      const unsigned iopl = static_cast<unsigned>((r_.rflags >> 12) & 3);
      if (cpl() != 0) writable &= ~kIOPL;
      if (static_cast<unsigned>(cpl()) > iopl) writable &= ~kIF;
      if (ssz == 2) writable &= 0xFFFF;
      r_.rflags = (r_.rflags & ~writable) | (v & writable) | 2;
      return;
    }
    case 0xC3: jump(pop(ssz), in.osz); return;
    case 0xC2: {
      uint64_t target = pop(ssz);
      r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | ((r_.gpr[kRsp] + (in.imm & 0xFFFF)) & sp_mask());
      jump(target, in.osz);
      return;
    }
    case 0xC9: {  // leave
      uint64_t bp = r_.gpr[kRbp];
      uint64_t v = read_mem(linear(kSs, bp & sp_mask()), ssz);
      r_.gpr[kRsp] = (r_.gpr[kRsp] & ~sp_mask()) | ((bp + static_cast<uint64_t>(ssz)) & sp_mask());
      set_reg(kRbp, ssz, v);
      return;
    }
    case 0xE8: {
      uint64_t target = r_.rip + in.imm;
      push(r_.rip, ssz);
      jump(target, in.osz);
      return;
    }
    case 0xE9: case 0xEB: jump(r_.rip + in.imm, in.osz); return;
    case 0xE0: case 0xE1: case 0xE2: {
      // loop/loope/loopne: decrement rCX (address size), jump if non-zero (and ZF matches
      // for E1/E0); flags untouched.
      const int asz = in.asz;
      uint64_t c = (reg(kRcx, asz) - 1) & size_mask(asz);
      set_reg(kRcx, asz, c);
      bool taken = c != 0;
      if (op == 0xE1) taken = taken && (r_.rflags & kZF);
      if (op == 0xE0) taken = taken && !(r_.rflags & kZF);
      if (taken) jump(r_.rip + in.imm, in.osz);
      return;
    }
    case 0xE3:
      if (reg(kRcx, in.asz) == 0) jump(r_.rip + in.imm, in.osz);
      return;
    case 0xFF: {
      const int digit = in.opreg();
      if (digit == 3 || digit == 5) return exec_legacy(in);  // far call/jmp through memory
      // Near indirect branches and push use 64-bit operands in 64-bit mode.
      const int size = ssz;
      uint64_t target = rm_read(in, size);
      if (digit == 2) {
        push(r_.rip, ssz);
        jump(target, in.osz);
      } else if (digit == 4) {
        jump(target, in.osz);
      } else {
        push(target, ssz);  // /6
      }
      return;
    }
    default: throw Unsupported{};
  }
}

void Cpu::exec_move(const Insn& in) {
  const uint16_t op = in.op;
  const int osz = in.osz;
  if (op >= 0xB0 && op <= 0xB7) {
    set_reg((op & 7) | ((in.rex & 1) ? 8 : 0), 1, in.imm);
    return;
  }
  if (op >= 0xB8 && op <= 0xBF) {
    set_reg((op & 7) | ((in.rex & 1) ? 8 : 0), osz, in.imm);
    return;
  }
  if (op >= 0x0F40 && op <= 0x0F4F) {
    uint64_t v = rm_read(in, osz);  // the source is read (and may fault) either way
    if (condition(op & 0xF)) set_reg(in.reg, osz, v);
    else if (osz == 4) set_reg(in.reg, 4, reg(in.reg, 4));  // 32-bit cmov zero-extends anyway
    return;
  }
  switch (op) {
    case 0x88: rm_write(in, 1, reg(in.reg, 1)); return;
    case 0x89: rm_write(in, osz, reg(in.reg, osz)); return;
    case 0x8A: set_reg(in.reg, 1, rm_read(in, 1)); return;
    case 0x8B: set_reg(in.reg, osz, rm_read(in, osz)); return;
    case 0xC6: rm_write(in, 1, in.imm); return;
    case 0xC7: rm_write(in, osz, in.imm); return;
    case 0x8D: {
      if (in.mod == 3) throw GuestFault{6, false, 0};
      set_reg(in.reg, osz, effective_address(in));
      return;
    }
    case 0xA0: case 0xA1: case 0xA2: case 0xA3: {
      const int size = (op & 1) ? osz : 1;
      uint64_t lin = linear(in.seg >= 0 ? static_cast<int>(in.seg) : static_cast<int>(kDs), in.asz == 4 ? (in.imm & 0xFFFFFFFF) : in.imm);
      if (op <= 0xA1) set_reg(kRax, size, read_mem(lin, size));
      else write_mem(lin, size, reg(kRax, size));
      return;
    }
    case 0x63: {  // movsxd
      uint64_t v = rm_read(in, 4);
      set_reg(in.reg, osz, osz == 8 ? sign_extend(v, 4) : v);
      return;
    }
    case 0x0FB6: set_reg(in.reg, osz, rm_read(in, 1)); return;
    case 0x0FB7: set_reg(in.reg, osz, rm_read(in, 2)); return;
    case 0x0FBE: set_reg(in.reg, osz, sign_extend(rm_read(in, 1), 1)); return;
    case 0x0FBF: set_reg(in.reg, osz, sign_extend(rm_read(in, 2), 2)); return;
    case 0x98:  // cbw / cwde / cdqe
      set_reg(kRax, osz, sign_extend(reg(kRax, osz / 2), osz / 2));
      return;
    case 0x99:  // cwd / cdq / cqo
      set_reg(kRdx, osz, (reg(kRax, osz) & sign_bit(osz)) ? ~0ULL : 0);
      return;
    case 0x90:
      if (in.rex & 1) {  // xchg r8, rax
        uint64_t a = reg(kRax, osz);
        set_reg(kRax, osz, reg(8, osz));
        set_reg(8, osz, a);
      }
      return;  // nop / pause (F3 90)
    case 0x9E:  // sahf
      r_.rflags = (r_.rflags & ~0xD5ULL) | ((r_.gpr[kRax] >> 8) & 0xD5) | 2;
      return;
    case 0x9F:  // lahf
      set_reg(kRsp, 1, r_.rflags & 0xD7);  // register 4 without REX is AH
      return;
    default: throw Unsupported{};
  }
}

}  // namespace kvpc::emu
