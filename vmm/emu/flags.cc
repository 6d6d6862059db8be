#include "vmm/emu/flags.h"

namespace kvpc::emu {

AluResult shift_op(int op, uint64_t value, unsigned count, uint64_t rflags, int size) {
  const int bits = size * 8;
  const uint64_t m = size_mask(size);
  const uint64_t sb = sign_bit(size);
  value &= m;
  count &= (size == 8) ? 0x3F : 0x1F;
  uint64_t f = rflags & kArithFlags;
  if (count == 0) return {value, f};
  uint64_t r = value;
  switch (op & 7) {
    case 0: {  // ROL
      unsigned c = count % bits;
      r = c ? ((value << c) | (value >> (bits - c))) & m : value;
      f &= ~(kCF | kOF);
      if (r & 1) f |= kCF;
      if (((r & sb) != 0) != ((r & 1) != 0)) f |= kOF;
      return {r, f};
    }
    case 1: {  // ROR
      unsigned c = count % bits;
      r = c ? ((value >> c) | (value << (bits - c))) & m : value;
      f &= ~(kCF | kOF);
      if (r & sb) f |= kCF;
      if (((r & sb) != 0) != ((r & (sb >> 1)) != 0)) f |= kOF;
      return {r, f};
    }
    case 2: {  // RCL: rotate through CF, a (bits+1)-bit rotation done bit by bit
      unsigned c = count % (bits + 1);
      uint64_t cf = rflags & kCF;
      for (unsigned i = 0; i < c; ++i) {
        uint64_t out = (r & sb) ? 1 : 0;
        r = ((r << 1) | cf) & m;
        cf = out;
      }
      f &= ~(kCF | kOF);
      if (cf) f |= kCF;
      if (((r & sb) != 0) != (cf != 0)) f |= kOF;
      return {r, f};
    }
    case 3: {  // RCR
      unsigned c = count % (bits + 1);
      uint64_t cf = rflags & kCF;
      uint64_t of = (((value & sb) != 0) != (cf != 0)) ? kOF : 0;  // from the input, as for count 1
      for (unsigned i = 0; i < c; ++i) {
        uint64_t out = r & 1;
        r = (r >> 1) | (cf ? sb : 0);
        cf = out;
      }
      f &= ~(kCF | kOF);
      if (cf) f |= kCF;
      f |= of;
      return {r, f};
    }
    case 4:
    case 6: {  // SHL/SAL
      uint64_t cf = count <= static_cast<unsigned>(bits) ? (value >> (bits - count)) & 1 : 0;
      r = count < static_cast<unsigned>(bits) ? (value << count) & m : 0;
      f = flags_szp(r, size);
      if (cf) f |= kCF;
      if (((r & sb) != 0) != (cf != 0)) f |= kOF;
      return {r, f};
    }
    case 5: {  // SHR
      uint64_t cf = count <= static_cast<unsigned>(bits) ? (value >> (count - 1)) & 1 : 0;
      r = count < static_cast<unsigned>(bits) ? value >> count : 0;
      f = flags_szp(r, size);
      if (cf) f |= kCF;
      if (value & sb) f |= kOF;
      return {r, f};
    }
    default: {  // SAR
      int64_t sv = static_cast<int64_t>(sign_extend(value, size));
      unsigned c1 = count - 1 < 63 ? count - 1 : 63;
      uint64_t cf = (static_cast<uint64_t>(sv >> c1)) & 1;
      unsigned c = count < 63 ? count : 63;
      r = static_cast<uint64_t>(sv >> c) & m;
      f = flags_szp(r, size);
      if (cf) f |= kCF;
      return {r, f};
    }
  }
}

}  // namespace kvpc::emu
