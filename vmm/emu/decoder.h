// x86 instruction decoder for the emulator's subset (see docs/emulator.md).
//
// decode() turns up to 15 fetched bytes into an Insn: prefixes, REX, opcode, ModRM/SIB,
// displacement and immediate. It does no memory access and knows nothing of CPU state
// beyond the code size (16, 32 or 64), so it is a pure function and trivially testable. It
// refuses opcodes outside the subset (kUnsupported) so that the executor never sees one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvpc::emu {

struct Insn {
  uint8_t bytes[15] = {};
  uint8_t len = 0;
  uint16_t op = 0;      // one-byte opcode, or 0x0F00 | second byte
  uint8_t rep = 0;      // 0, 0xF2 (repne) or 0xF3 (rep/repe)
  int8_t seg = -1;      // segment override (kEs..kGs) or -1
  bool opsize_prefix = false;
  bool lock = false;
  uint8_t rex = 0;      // the REX byte, 0 if none
  uint8_t osz = 4;      // operand size of non-byte forms: 2, 4 or 8
  uint8_t asz = 8;      // address size: 2, 4 or 8 (2: 16-bit ModRM forms, base/index from the fixed pairs)
  bool has_modrm = false;
  uint8_t mod = 0;
  uint8_t reg = 0;      // ModRM.reg extended by REX.R
  uint8_t rm = 0;       // ModRM.rm extended by REX.B (register form)
  // Memory operand (mod != 3): base/index register numbers or -1.
  int8_t base = -1;
  int8_t index = -1;
  uint8_t scale = 0;    // shift count 0..3
  bool rip_relative = false;
  int64_t disp = 0;
  uint64_t imm = 0;     // immediate (sign-extended where the encoding says so) or rel offset
  uint16_t imm2 = 0;    // second immediate (far jump/call selector, enter nesting level)

  bool is_mem() const { return has_modrm && mod != 3; }
  uint8_t opreg() const { return static_cast<uint8_t>(reg & 7); }  // the /digit of group opcodes
};

enum class DecodeStatus { kOk, kNeedMore, kUnsupported };

// `code_bits` is 64 (long mode), 32 (32-bit protected or compatibility mode) or 16 (real mode,
// or a 16-bit protected-mode code segment): it sets the default operand and address sizes.
DecodeStatus decode(const uint8_t* bytes, size_t avail, int code_bits, Insn& out);

}  // namespace kvpc::emu
