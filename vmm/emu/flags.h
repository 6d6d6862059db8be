// RFLAGS bits and the arithmetic-flag formulas shared by every executor group.
//
// Flags are computed eagerly (no lazy-flag machinery): each helper returns the result and
// the six arithmetic flags, and the caller merges them into RFLAGS. Eager is simpler to
// get right and still leaves the interpreter well above its speed target.
#pragma once

#include <cstdint>

namespace kvpc::emu {

inline constexpr uint64_t kCF = 1ULL << 0;
inline constexpr uint64_t kPF = 1ULL << 2;
inline constexpr uint64_t kAF = 1ULL << 4;
inline constexpr uint64_t kZF = 1ULL << 6;
inline constexpr uint64_t kSF = 1ULL << 7;
inline constexpr uint64_t kTF = 1ULL << 8;
inline constexpr uint64_t kIF = 1ULL << 9;
inline constexpr uint64_t kDF = 1ULL << 10;
inline constexpr uint64_t kOF = 1ULL << 11;
inline constexpr uint64_t kIOPL = 3ULL << 12;
inline constexpr uint64_t kNT = 1ULL << 14;
inline constexpr uint64_t kRF = 1ULL << 16;
inline constexpr uint64_t kAC = 1ULL << 18;
inline constexpr uint64_t kID = 1ULL << 21;
inline constexpr uint64_t kArithFlags = kCF | kPF | kAF | kZF | kSF | kOF;
// Bits POPF/IRET may change at all (the rest read as fixed values; bit 1 is always 1).
inline constexpr uint64_t kWritableFlags = kArithFlags | kTF | kIF | kDF | kIOPL | kNT | kRF | kAC | kID;

inline constexpr uint64_t size_mask(int size) { return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1; }
inline constexpr uint64_t sign_bit(int size) { return 1ULL << (size * 8 - 1); }
inline constexpr uint64_t sign_extend(uint64_t v, int size) {
  switch (size) {
    case 1: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(v)));
    case 2: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(v)));
    case 4: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
    default: return v;
  }
}

// ZF, SF and PF of a result (PF looks at the low byte only, as the architecture says).
inline uint64_t flags_szp(uint64_t result, int size) {
  result &= size_mask(size);
  uint64_t f = 0;
  if (result == 0) f |= kZF;
  if (result & sign_bit(size)) f |= kSF;
  if (!__builtin_parity(static_cast<unsigned>(result & 0xFF))) f |= kPF;
  return f;
}

struct AluResult {
  uint64_t value;
  uint64_t flags;  // only kArithFlags bits are meaningful
};

// a + b + carry_in, truncated to `size` bytes.
inline AluResult alu_add(uint64_t a, uint64_t b, uint64_t carry_in, int size) {
  const uint64_t m = size_mask(size);
  a &= m;
  b &= m;
  uint64_t r = (a + b + carry_in) & m;
  bool cf = carry_in ? (r <= a) : (r < a);  // unsigned wrap of the truncated sum
  uint64_t f = flags_szp(r, size);
  if (cf) f |= kCF;
  if (((a ^ r) & (b ^ r)) & sign_bit(size)) f |= kOF;
  if ((a ^ b ^ r) & 0x10) f |= kAF;
  return {r, f};
}

// a - b - borrow_in, truncated to `size` bytes.
inline AluResult alu_sub(uint64_t a, uint64_t b, uint64_t borrow_in, int size) {
  const uint64_t m = size_mask(size);
  a &= m;
  b &= m;
  uint64_t r = (a - b - borrow_in) & m;
  bool cf = borrow_in ? (a <= b) : (a < b);
  uint64_t f = flags_szp(r, size);
  if (cf) f |= kCF;
  if (((a ^ b) & (a ^ r)) & sign_bit(size)) f |= kOF;
  if ((a ^ b ^ r) & 0x10) f |= kAF;
  return {r, f};
}

// AND/OR/XOR/TEST: CF=OF=0, AF cleared (architecturally undefined).
inline AluResult alu_logic(uint64_t r, int size) { return {r & size_mask(size), flags_szp(r, size)}; }

// The eight classic ALU operations in opcode order (add or adc sbb and sub xor cmp).
// CMP returns the difference; the caller does not store it.
inline AluResult alu_op(int op, uint64_t a, uint64_t b, uint64_t rflags, int size) {
  switch (op & 7) {
    case 0: return alu_add(a, b, 0, size);
    case 1: return alu_logic(a | b, size);
    case 2: return alu_add(a, b, rflags & kCF, size);
    case 3: return alu_sub(a, b, rflags & kCF, size);
    case 4: return alu_logic(a & b, size);
    case 5: return alu_sub(a, b, 0, size);
    case 6: return alu_logic(a ^ b, size);
    default: return alu_sub(a, b, 0, size);
  }
}

// Shifts and rotates (ROL ROR RCL RCR SHL SHR SAL SAR by /reg). `count` is the raw count;
// it is masked here. A masked count of zero leaves value and flags alone. The returned
// flags are the full new arithmetic-flag set (rotates keep SF/ZF/PF/AF from rflags).
// For counts above 1, OF is architecturally undefined; we use the count==1 formula.
AluResult shift_op(int op, uint64_t value, unsigned count, uint64_t rflags, int size);

}  // namespace kvpc::emu
