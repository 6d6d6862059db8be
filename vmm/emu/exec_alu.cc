// Arithmetic, logic, shifts, multiply/divide and bit operations.
#include "vmm/emu/cpu.h"
#include "vmm/emu/flags.h"

namespace kvpc::emu {
namespace {

// GCC's 128-bit integers give exact double-width products and dividends.
__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

}  // namespace

void Cpu::exec_alu_group(const Insn& in) {
  const uint16_t op = in.op;
  if (op < 0x40) {
    const int alu = op >> 3;
    const int size = (op & 1) ? in.osz : 1;
    switch (op & 7) {
      case 0: case 1: {  // r/m op= reg
        uint64_t a = rm_read(in, size);
        AluResult res = alu_op(alu, a, reg(in.reg, size), r_.rflags, size);
        if (alu != 7) rm_write(in, size, res.value);
        set_flags(res.flags);
        return;
      }
      case 2: case 3: {  // reg op= r/m
        uint64_t b = rm_read(in, size);
        AluResult res = alu_op(alu, reg(in.reg, size), b, r_.rflags, size);
        if (alu != 7) set_reg(in.reg, size, res.value);
        set_flags(res.flags);
        return;
      }
      default: {  // AL/eAX op= imm
        AluResult res = alu_op(alu, reg(kRax, size), in.imm, r_.rflags, size);
        if (alu != 7) set_reg(kRax, size, res.value);
        set_flags(res.flags);
        return;
      }
    }
  }
  switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83: {
      const int size = (op == 0x80 || op == 0x82) ? 1 : in.osz;
      const int alu = in.opreg();
      uint64_t a = rm_read(in, size);
      AluResult res = alu_op(alu, a, in.imm, r_.rflags, size);
      if (alu != 7) rm_write(in, size, res.value);
      set_flags(res.flags);
      return;
    }
    case 0x84: case 0x85: {
      const int size = op == 0x84 ? 1 : in.osz;
      set_flags(alu_logic(rm_read(in, size) & reg(in.reg, size), size).flags);
      return;
    }
    case 0xA8: case 0xA9: {
      const int size = op == 0xA8 ? 1 : in.osz;
      set_flags(alu_logic(reg(kRax, size) & in.imm, size).flags);
      return;
    }
    default: throw Unsupported{};
  }
}

void Cpu::exec_unary_group(const Insn& in) {
  const uint16_t op = in.op;
  if (op >= 0x40 && op < 0x50) {  // inc/dec r32 (only reachable in 32-bit mode)
    const int size = in.osz;
    const unsigned r = op & 7;
    AluResult res = (op < 0x48) ? alu_add(reg(r, size), 1, 0, size) : alu_sub(reg(r, size), 1, 0, size);
    set_reg(r, size, res.value);
    set_flags((res.flags & ~kCF) | (r_.rflags & kCF));
    return;
  }
  const int size = (op == 0xF6 || op == 0xFE) ? 1 : in.osz;
  const int digit = in.opreg();
  if (op == 0xFE || op == 0xFF) {  // inc/dec r/m: CF is preserved
    uint64_t a = rm_read(in, size);
    AluResult res = digit == 0 ? alu_add(a, 1, 0, size) : alu_sub(a, 1, 0, size);
    rm_write(in, size, res.value);
    set_flags((res.flags & ~kCF) | (r_.rflags & kCF));
    return;
  }
  // Group 3: test not neg mul imul div idiv
  const uint64_t m = size_mask(size);
  switch (digit) {
    case 0: case 1:
      set_flags(alu_logic(rm_read(in, size) & in.imm, size).flags);
      return;
    case 2:
      rm_write(in, size, ~rm_read(in, size) & m);  // NOT changes no flags
      return;
    case 3: {
      uint64_t a = rm_read(in, size);
      AluResult res = alu_sub(0, a, 0, size);
      rm_write(in, size, res.value);
      set_flags(res.flags);  // CF = (a != 0) falls out of 0 - a
      return;
    }
    case 4: case 5: {  // mul / imul: rDX:rAX = rAX * r/m
      const uint64_t b = rm_read(in, size);
      const uint64_t a = reg(kRax, size);
      uint64_t lo, hi;
      bool overflow;
      if (digit == 4) {
        u128 p = static_cast<u128>(a) * b;
        lo = static_cast<uint64_t>(p) & m;
        hi = size == 8 ? static_cast<uint64_t>(p >> 64) : (static_cast<uint64_t>(p) >> (size * 8)) & m;
        overflow = hi != 0;
      } else {
        i128 p = static_cast<i128>(static_cast<int64_t>(sign_extend(a, size))) *
                 static_cast<i128>(static_cast<int64_t>(sign_extend(b, size)));
        lo = static_cast<uint64_t>(p) & m;
        hi = size == 8 ? static_cast<uint64_t>(p >> 64) : (static_cast<uint64_t>(p) >> (size * 8)) & m;
        overflow = static_cast<i128>(static_cast<int64_t>(sign_extend(lo, size))) != p;
      }
      if (size == 1) {
        set_reg(kRax, 2, (hi << 8) | lo);
      } else {
        set_reg(kRax, size, lo);
        set_reg(kRdx, size, hi);
      }
      // SF/ZF/PF/AF are undefined; we define them from the low half (AF clear).
      uint64_t f = flags_szp(lo, size);
      if (overflow) f |= kCF | kOF;
      set_flags(f);
      return;
    }
    default: {  // div / idiv: #DE on zero divisor or quotient overflow
      const uint64_t divisor = rm_read(in, size);
      if ((divisor & m) == 0) throw GuestFault{0, false, 0};
      uint64_t lo = size == 1 ? reg(kRax, 2) & 0xFF : reg(kRax, size);
      uint64_t hi = size == 1 ? (reg(kRax, 2) >> 8) & 0xFF : reg(kRdx, size);
      const int bits = size * 8;
      uint64_t q, rem;
      if (digit == 6) {
        u128 dividend = size == 8 ? (static_cast<u128>(hi) << 64) | lo : static_cast<u128>((hi << bits) | lo);
        u128 qq = dividend / divisor;
        if (qq > m) throw GuestFault{0, false, 0};
        q = static_cast<uint64_t>(qq);
        rem = static_cast<uint64_t>(dividend % divisor);
      } else {
        i128 dividend;
        if (size == 8) {
          dividend = static_cast<i128>((static_cast<u128>(hi) << 64) | lo);
        } else {
          uint64_t both = (hi << bits) | lo;
          dividend = static_cast<int64_t>(sign_extend(both, size * 2));
        }
        i128 dv = static_cast<int64_t>(sign_extend(divisor, size));
        // The one quotient that does not fit even in 128 bits cannot occur (|dividend| < 2^127).
        i128 qq = dividend / dv;
        const i128 lim_hi = static_cast<i128>(sign_bit(size) - 1);
        i128 lim_lo = -lim_hi - 1;
        if (qq > lim_hi || qq < lim_lo) throw GuestFault{0, false, 0};
        q = static_cast<uint64_t>(qq) & m;
        rem = static_cast<uint64_t>(dividend % dv) & m;
      }
      if (size == 1) {
        set_reg(kRax, 2, (rem << 8) | q);
      } else {
        set_reg(kRax, size, q);
        set_reg(kRdx, size, rem);
      }
      return;  // flags undefined after DIV: left unchanged
    }
  }
}

void Cpu::exec_shift(const Insn& in) {
  const uint16_t op = in.op;
  const int size = (op == 0xC0 || op == 0xD0 || op == 0xD2) ? 1 : in.osz;
  unsigned count;
  if (op == 0xC0 || op == 0xC1) count = static_cast<unsigned>(in.imm & 0xFF);
  else if (op == 0xD0 || op == 0xD1) count = 1;
  else count = static_cast<unsigned>(r_.gpr[kRcx] & 0xFF);
  uint64_t v = rm_read(in, size);
  AluResult res = shift_op(in.opreg(), v, count, r_.rflags, size);
  rm_write(in, size, res.value);
  set_flags(res.flags);
}

void Cpu::exec_imul(const Insn& in) {
  const int size = in.osz;
  const uint64_t b = rm_read(in, size);
  const uint64_t a = in.op == 0x0FAF ? reg(in.reg, size) : in.imm;
  i128 p = static_cast<i128>(static_cast<int64_t>(sign_extend(a, size))) *
           static_cast<i128>(static_cast<int64_t>(sign_extend(b, size)));
  uint64_t lo = static_cast<uint64_t>(p) & size_mask(size);
  bool overflow = static_cast<i128>(static_cast<int64_t>(sign_extend(lo, size))) != p;
  set_reg(in.reg, size, lo);
  uint64_t f = flags_szp(lo, size);
  if (overflow) f |= kCF | kOF;
  set_flags(f);
}

void Cpu::exec_bits(const Insn& in) {
  const uint8_t b = static_cast<uint8_t>(in.op & 0xFF);
  const int size = in.osz;
  if (b >= 0xC8) {  // bswap
    const unsigned r = (b & 7) | ((in.rex & 1) ? 8 : 0);
    uint64_t v = reg(r, size);
    if (size == 8) v = __builtin_bswap64(v);
    else if (size == 4) v = __builtin_bswap32(static_cast<uint32_t>(v));
    else v = 0;  // 16-bit BSWAP is undefined; real CPUs yield 0
    set_reg(r, size, v);
    return;
  }
  if (b == 0xBC || b == 0xBD) {
    uint64_t v = rm_read(in, size);
    if (v == 0) {
      r_.rflags |= kZF;  // destination unchanged
      return;
    }
    unsigned idx = b == 0xBC ? static_cast<unsigned>(__builtin_ctzll(v)) : 63u - static_cast<unsigned>(__builtin_clzll(v));
    set_reg(in.reg, size, idx);
    r_.rflags &= ~kZF;
    return;
  }
  // bt / bts / btr / btc
  int kind;  // 0 bt, 1 bts, 2 btr, 3 btc
  int64_t bit;
  if (b == 0xBA) {
    kind = in.opreg() - 4;
    bit = static_cast<int64_t>(in.imm & static_cast<uint64_t>(size * 8 - 1));
  } else {
    kind = b == 0xA3 ? 0 : b == 0xAB ? 1 : b == 0xB3 ? 2 : 3;
    bit = static_cast<int64_t>(sign_extend(reg(in.reg, size), size));
    if (in.mod == 3) bit &= size * 8 - 1;
  }
  uint64_t lin = 0;
  uint64_t v;
  if (in.mod == 3) {
    v = reg(in.rm, size);
  } else {
    // A register bit offset addresses memory beyond the operand (bit strings).
    const int64_t bits = size * 8;
    int64_t word = bit >= 0 ? bit / bits : -((-bit + bits - 1) / bits);
    bit -= word * bits;
    lin = mem_address(in) + static_cast<uint64_t>(word * size);
    if (code_bits_ != 64) lin &= 0xFFFFFFFF;
    v = read_mem(lin, size);
  }
  const uint64_t mask = 1ULL << bit;
  const bool old = v & mask;
  if (kind != 0) {
    uint64_t nv = kind == 1 ? v | mask : kind == 2 ? v & ~mask : v ^ mask;
    if (in.mod == 3) set_reg(in.rm, size, nv);
    else write_mem(lin, size, nv);
  }
  r_.rflags = old ? (r_.rflags | kCF) : (r_.rflags & ~kCF);
}

void Cpu::exec_atomic(const Insn& in) {
  // One vCPU thread executes one instruction at a time; guest memory is ours alone while
  // we run, so LOCK needs nothing beyond doing the read-modify-write in one step.
  const uint16_t op = in.op;
  if (op >= 0x91 && op <= 0x97) {  // xchg eAX, reg
    const unsigned r = (op & 7) | ((in.rex & 1) ? 8 : 0);
    uint64_t a = reg(kRax, in.osz);
    set_reg(kRax, in.osz, reg(r, in.osz));
    set_reg(r, in.osz, a);
    return;
  }
  const bool byte = op == 0x86 || op == 0x0FB0 || op == 0x0FC0;
  const int size = byte ? 1 : in.osz;
  uint64_t dst = rm_read(in, size);
  uint64_t src = reg(in.reg, size);
  switch (op) {
    case 0x86: case 0x87:
      rm_write(in, size, src);
      set_reg(in.reg, size, dst);
      return;
    case 0x0FB0: case 0x0FB1: {
      uint64_t acc = reg(kRax, size);
      AluResult res = alu_sub(acc, dst, 0, size);
      if (acc == dst) {
        rm_write(in, size, src);
      } else {
        rm_write(in, size, dst);  // the destination is always written, as on hardware
        set_reg(kRax, size, dst);
      }
      set_flags(res.flags);
      return;
    }
    default: {  // xadd
      AluResult res = alu_add(dst, src, 0, size);
      rm_write(in, size, res.value);
      set_reg(in.reg, size, dst);
      set_flags(res.flags);
      return;
    }
  }
}

}  // namespace kvpc::emu

namespace kvpc::emu {

// shld/shrd (0F A4/A5 left, AC/AD right): shift r/m by the count, filling from `reg`.
// 32-bit code uses them for 64-bit shifts. A count of 0 changes nothing; a count larger
// than a 16-bit operand is architecturally undefined and here shifts through the 32-bit
// concatenation. OF follows the count-1 formula as the other shifts do (see docs).
void Cpu::exec_double_shift(const Insn& in) {
  const uint8_t b = static_cast<uint8_t>(in.op & 0xFF);
  const int size = in.osz;
  const int bits = size * 8;
  const bool left = b == 0xA4 || b == 0xA5;
  unsigned count = (b == 0xA4 || b == 0xAC) ? static_cast<unsigned>(in.imm & 0xFF)
                                             : static_cast<unsigned>(r_.gpr[kRcx] & 0xFF);
  count &= size == 8 ? 63 : 31;
  const uint64_t dst = rm_read(in, size);
  if (count == 0) return;
  const uint64_t src = reg(in.reg, size);
  const uint64_t m = size_mask(size);
  uint64_t result;
  bool cf;
  if (static_cast<int>(count) >= bits) count %= static_cast<unsigned>(bits);  // 16-bit forms only
  if (count == 0) return;
  if (left) {
    result = ((dst << count) | (src >> (bits - static_cast<int>(count)))) & m;
    cf = (dst >> (bits - static_cast<int>(count))) & 1;
  } else {
    result = ((dst >> count) | (src << (bits - static_cast<int>(count)))) & m;
    cf = (dst >> (count - 1)) & 1;
  }
  rm_write(in, size, result);
  uint64_t f = flags_szp(result, size);
  if (cf) f |= kCF;
  if (((result ^ dst) & sign_bit(size)) != 0) f |= kOF;
  set_flags(f);
}

}  // namespace kvpc::emu
