#include "vmm/emu/decoder.h"

#include <cstring>

#include "vmm/emu/segments.h"

namespace kvpc::emu {
namespace {

// Immediate kinds.
enum Imm : uint8_t { kNone, kIb, kIz, kIw, kIv, kMoffs, kIwIb, kFar };

struct OpInfo {
  bool ok;
  bool modrm;
  Imm imm;
};

constexpr OpInfo X{false, false, kNone};
constexpr OpInfo N{true, false, kNone};
constexpr OpInfo M{true, true, kNone};
constexpr OpInfo MB{true, true, kIb};
constexpr OpInfo MZ{true, true, kIz};
constexpr OpInfo B{true, false, kIb};
constexpr OpInfo Z{true, false, kIz};

// One-byte map. Prefix bytes are consumed before the table is consulted.
constexpr OpInfo kOneByte[256] = {
    // 00-0F: 06/07 push/pop es, 0E push cs (16/32-bit modes only)
    M, M, M, M, B, Z, N, N, M, M, M, M, B, Z, N, X,
    // 10-1F: 16/17 push/pop ss, 1E/1F push/pop ds
    M, M, M, M, B, Z, N, N, M, M, M, M, B, Z, N, N,
    // 20-2F
    M, M, M, M, B, Z, X, X, M, M, M, M, B, Z, X, X,
    // 30-3F
    M, M, M, M, B, Z, X, X, M, M, M, M, B, Z, X, X,
    // 40-4F: inc/dec r32 in 32-bit mode (REX in 64-bit mode, consumed as a prefix)
    N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N,
    // 50-5F
    N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N,
    // 60-6F: 60/61 pusha/popa (16/32-bit); 63 movsxd; 68 push iz; 69 imul; 6A push ib; 6B imul; 6C-6F ins/outs
    N, N, X, M, X, X, X, X, Z, MZ, B, MB, N, N, N, N,
    // 70-7F jcc rel8
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    // 80-8F
    MB, MZ, MB, MB, M, M, M, M, M, M, M, M, M, M, M, M,
    // 90-9F: 9A callf ptr16:16/32 (16/32-bit), 9E sahf, 9F lahf
    N, N, N, N, N, N, N, N, N, N, {true, false, kFar}, X, N, N, N, N,
    // A0-AF
    {true, false, kMoffs}, {true, false, kMoffs}, {true, false, kMoffs}, {true, false, kMoffs},
    N, N, N, N, B, Z, N, N, N, N, N, N,
    // B0-BF
    B, B, B, B, B, B, B, B, {true, false, kIv}, {true, false, kIv}, {true, false, kIv}, {true, false, kIv},
    {true, false, kIv}, {true, false, kIv}, {true, false, kIv}, {true, false, kIv},
    // C0-CF: C2 ret iw, C4/C5 les/lds (16/32-bit), C8 enter, C9 leave, CA/CB retf, CC int3, CD int ib, CF iret
    MB, MB, {true, false, kIw}, N, M, M, MB, MZ, {true, false, kIwIb}, N, {true, false, kIw}, N, N, B, X, N,
    // D0-DF
    M, M, M, M, X, X, X, X, X, X, X, X, X, X, X, X,
    // E0-EF: E0/E1 loopne/loope, E2 loop, E3 jrcxz, E4-E7 in/out imm, E8 call, E9 jmp, EA jmpf (16/32-bit), EB jmp8
    B, B, B, B, B, B, B, B, Z, Z, {true, false, kFar}, B, N, N, N, N,
    // F0-FF
    X, X, X, X, N, N, M, M, N, N, N, N, N, N, M, M,
};

OpInfo two_byte_info(uint8_t b) {
  switch (b) {
    case 0x00: case 0x01: case 0x1F: case 0x20: case 0x22:
    case 0xA3: case 0xAB: case 0xAF: case 0xB0: case 0xB1: case 0xB3: case 0xB6: case 0xB7:
    case 0xBB: case 0xBC: case 0xBD: case 0xBE: case 0xBF: case 0xC0: case 0xC1:
      return M;
    case 0xBA:
      return MB;
    case 0x08: case 0x09: case 0x0B: case 0x30: case 0x31: case 0x32: case 0xA2:
    case 0x06: case 0xA0: case 0xA1: case 0xA8: case 0xA9:  // clts, push/pop fs/gs
      return N;
    case 0xB2: case 0xB4: case 0xB5:  // lss/lfs/lgs
    case 0xA5: case 0xAD:             // shld/shrd by CL
      return M;
    case 0xA4: case 0xAC:             // shld/shrd by imm8
      return MB;
    default:
      break;
  }
  if (b >= 0x40 && b <= 0x4F) return M;                 // cmovcc
  if (b >= 0x80 && b <= 0x8F) return {true, false, kIz};  // jcc rel32
  if (b >= 0x90 && b <= 0x9F) return M;                 // setcc
  if (b >= 0xC8 && b <= 0xCF) return N;                 // bswap
  return X;
}

// Group sub-opcodes outside the subset.
bool group_supported(uint16_t op, uint8_t digit, uint8_t mod, int code_bits) {
  switch (op) {
    case 0x8F: case 0xC6: case 0xC7: return digit == 0;
    case 0x8C: return digit <= 5;
    case 0x8E: return digit <= 5 && digit != 1;  // no "mov cs, r/m"
    case 0xFE: return digit <= 1;
    case 0xFF: return digit != 7 && ((digit != 3 && digit != 5) || (mod != 3 && code_bits != 64));
    case 0x0F00: return digit == 3;
    case 0x0F01: return digit == 4 || digit == 6 || (mod != 3 && digit != 5);  // smsw/lmsw take registers too
    case 0xC4: case 0xC5: case 0x0FB2: case 0x0FB4: case 0x0FB5: return mod != 3;
    case 0x0F1F: return digit == 0;
    case 0x0FBA: return digit >= 4;
    case 0x63: return code_bits == 64;
    default: return true;
  }
}

}  // namespace

DecodeStatus decode(const uint8_t* bytes, size_t avail, int code_bits, Insn& out) {
  out = Insn{};
  size_t pos = 0;
  auto need = [&](size_t n) { return pos + n <= avail && pos + n <= 15; };
  // Out of bytes: either the window ended (fetch the next page and retry) or the
  // instruction is longer than 15 bytes, which no valid encoding is.
  auto short_of = [&] { return avail >= 15 ? DecodeStatus::kUnsupported : DecodeStatus::kNeedMore; };
  bool addr_prefix = false;
  // Legacy prefixes, then (64-bit mode) at most one REX immediately before the opcode.
  for (;;) {
    if (!need(1)) return short_of();
    uint8_t b = bytes[pos];
    if (b == 0x66) out.opsize_prefix = true;
    else if (b == 0x67) addr_prefix = true;
    else if (b == 0xF0) out.lock = true;
    else if (b == 0xF2 || b == 0xF3) out.rep = b;
    else if (b == 0x26) out.seg = kEs;
    else if (b == 0x2E) out.seg = kCs;
    else if (b == 0x36) out.seg = kSs;
    else if (b == 0x3E) out.seg = kDs;
    else if (b == 0x64) out.seg = kFs;
    else if (b == 0x65) out.seg = kGs;
    else if (code_bits == 64 && (b & 0xF0) == 0x40) {
      out.rex = b;  // a REX followed by another prefix is ignored: the last one counts
      ++pos;
      if (!need(1)) return short_of();
      uint8_t next = bytes[pos];
      if ((next & 0xF0) == 0x40) continue;
      if (next == 0x66 || next == 0x67 || next == 0xF0 || next == 0xF2 || next == 0xF3 || next == 0x26 ||
          next == 0x2E || next == 0x36 || next == 0x3E || next == 0x64 || next == 0x65) {
        out.rex = 0;
        continue;
      }
      break;
    } else {
      break;
    }
    ++pos;
  }
  if (!need(1)) return short_of();
  uint8_t b = bytes[pos++];
  OpInfo info;
  if (b == 0x0F) {
    if (!need(1)) return short_of();
    uint8_t b2 = bytes[pos++];
    out.op = static_cast<uint16_t>(0x0F00 | b2);
    info = two_byte_info(b2);
  } else {
    out.op = b;
    info = kOneByte[b];
    // Opcodes that do not exist in 64-bit mode (C4/C5 are VEX there).
    if (code_bits == 64 && (b == 0x06 || b == 0x07 || b == 0x0E || b == 0x16 || b == 0x17 || b == 0x1E ||
                            b == 0x1F || b == 0x60 || b == 0x61 || b == 0x9A || b == 0xC4 || b == 0xC5 ||
                            b == 0xEA || b == 0xCE)) {
      info = X;
    }
    if (b == 0x82) info = code_bits == 64 ? X : MB;
  }
  if (!info.ok) {
    out.len = static_cast<uint8_t>(pos);
    return DecodeStatus::kUnsupported;
  }
  const bool rex_w = out.rex & 8;
  if (code_bits == 64) {
    out.osz = rex_w ? 8 : (out.opsize_prefix ? 2 : 4);
    out.asz = addr_prefix ? 4 : 8;
  } else if (code_bits == 32) {
    out.osz = out.opsize_prefix ? 2 : 4;
    out.asz = addr_prefix ? 2 : 4;
  } else {  // 16-bit code segment (real mode or a 16-bit protected-mode segment)
    out.osz = out.opsize_prefix ? 4 : 2;
    out.asz = addr_prefix ? 4 : 2;
  }
  // mov to/from CR: the ModRM is always a register operand whatever mod says.
  if (info.modrm) {
    if (!need(1)) return short_of();
    uint8_t modrm = bytes[pos++];
    out.has_modrm = true;
    out.mod = modrm >> 6;
    out.reg = static_cast<uint8_t>(((modrm >> 3) & 7) | ((out.rex & 4) ? 8 : 0));
    out.rm = static_cast<uint8_t>((modrm & 7) | ((out.rex & 1) ? 8 : 0));
    if (out.op == 0x0F20 || out.op == 0x0F22) out.mod = 3;
    if (out.mod != 3 && out.asz == 2) {
      // 16-bit addressing: fixed base/index pairs, disp8 or disp16, no SIB.
      static constexpr int8_t kBase16[8] = {3, 3, 5, 5, -1, -1, 5, 3};   // BX BX BP BP - - BP BX
      static constexpr int8_t kIndex16[8] = {6, 7, 6, 7, 6, 7, -1, -1};  // SI DI SI DI SI DI - -
      const uint8_t rm = modrm & 7;
      out.base = kBase16[rm];
      out.index = kIndex16[rm];
      if (rm == 6 && out.mod == 0) {
        out.base = -1;
        if (!need(2)) return short_of();
        int16_t d;
        std::memcpy(&d, bytes + pos, 2);
        out.disp = static_cast<uint16_t>(d);
        pos += 2;
      } else if (out.mod == 1) {
        if (!need(1)) return short_of();
        out.disp = static_cast<int8_t>(bytes[pos++]);
      } else if (out.mod == 2) {
        if (!need(2)) return short_of();
        int16_t d;
        std::memcpy(&d, bytes + pos, 2);
        out.disp = d;
        pos += 2;
      }
    } else if (out.mod != 3) {
      uint8_t rm = modrm & 7;
      if (rm == 4) {
        if (!need(1)) return short_of();
        uint8_t sib = bytes[pos++];
        out.scale = sib >> 6;
        uint8_t idx = static_cast<uint8_t>(((sib >> 3) & 7) | ((out.rex & 2) ? 8 : 0));
        out.index = idx == 4 ? -1 : static_cast<int8_t>(idx);
        uint8_t base = sib & 7;
        if (base == 5 && out.mod == 0) {
          out.base = -1;
          if (!need(4)) return short_of();
          int32_t d;
          std::memcpy(&d, bytes + pos, 4);
          out.disp = d;
          pos += 4;
        } else {
          out.base = static_cast<int8_t>(base | ((out.rex & 1) ? 8 : 0));
        }
      } else if (rm == 5 && out.mod == 0) {
        // disp32 alone: RIP-relative in 64-bit mode, absolute in 32-bit mode.
        out.rip_relative = code_bits == 64;
        if (!need(4)) return short_of();
        int32_t d;
        std::memcpy(&d, bytes + pos, 4);
        out.disp = d;
        pos += 4;
      } else {
        out.base = static_cast<int8_t>(out.rm);
      }
      if (out.mod == 1) {
        if (!need(1)) return short_of();
        out.disp = static_cast<int8_t>(bytes[pos++]);
      } else if (out.mod == 2) {
        if (!need(4)) return short_of();
        int32_t d;
        std::memcpy(&d, bytes + pos, 4);
        out.disp = d;
        pos += 4;
      }
    }
    if (!group_supported(out.op, out.opreg(), out.mod, code_bits)) {
      out.len = static_cast<uint8_t>(pos);
      return DecodeStatus::kUnsupported;
    }
  }
  Imm imm = info.imm;
  // TEST r/m, imm is the only member of group 3 with an immediate.
  if ((out.op == 0xF6 || out.op == 0xF7) && out.opreg() <= 1) imm = out.op == 0xF6 ? kIb : kIz;
  auto fetch = [&](size_t n, bool sign) -> bool {
    if (!need(n)) return false;
    uint64_t v = 0;
    std::memcpy(&v, bytes + pos, n);
    pos += n;
    if (sign) {
      if (n == 1) v = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(v)));
      else if (n == 2) v = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(v)));
      else if (n == 4) v = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
    }
    out.imm = v;
    return true;
  };
  bool ok = true;
  switch (imm) {
    case kNone: break;
    case kIb: ok = fetch(1, true); break;
    case kIw: ok = fetch(2, false); break;
    case kIz: {
      // Near branches are always rel32 in 64-bit mode (Intel ignores 0x66 there).
      bool branch = out.op == 0xE8 || out.op == 0xE9 || (out.op >= 0x0F80 && out.op <= 0x0F8F);
      size_t n = (out.osz == 2 && !(branch && code_bits == 64)) ? 2 : 4;
      ok = fetch(n, true);
      break;
    }
    case kIv: ok = fetch(out.osz == 8 ? 8 : out.osz, false); break;
    case kMoffs: ok = fetch(out.asz, false); break;
    case kIwIb: {  // enter imm16, imm8
      ok = fetch(2, false);
      if (ok) {
        if (!need(1)) return short_of();
        out.imm2 = bytes[pos++];
      }
      break;
    }
    case kFar: {
      ok = fetch(out.osz == 2 ? 2 : 4, false);
      if (ok) {
        if (!need(2)) return short_of();
        std::memcpy(&out.imm2, bytes + pos, 2);
        pos += 2;
      }
      break;
    }
  }
  if (!ok) return short_of();
  out.len = static_cast<uint8_t>(pos);
  std::memcpy(out.bytes, bytes, pos);
  return DecodeStatus::kOk;
}

}  // namespace kvpc::emu
