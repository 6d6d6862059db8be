// Decoder unit tests: lengths, operands and refusals on hand-encoded bytes.
#include <gtest/gtest.h>

#include <vector>

#include "vmm/emu/decoder.h"

namespace kvpc::emu {
namespace {

Insn dec(std::vector<uint8_t> b, int bits = 64, DecodeStatus want = DecodeStatus::kOk) {
  Insn in;
  b.resize(15, 0x90);
  EXPECT_EQ(decode(b.data(), 15, bits, in), want);
  return in;
}

TEST(EmuDecoder, LengthsAndOperands) {
  Insn in = dec({0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8});  // mov rax, imm64
  EXPECT_EQ(in.len, 10);
  EXPECT_EQ(in.imm, 0x0807060504030201ULL);
  in = dec({0x8B, 0x44, 0x8B, 0xF0});  // mov eax,[rbx+rcx*4-16]
  EXPECT_EQ(in.len, 4);
  EXPECT_EQ(in.base, 3);
  EXPECT_EQ(in.index, 1);
  EXPECT_EQ(in.scale, 2);
  EXPECT_EQ(in.disp, -16);
  in = dec({0x4C, 0x8B, 0x05, 0x10, 0, 0, 0});  // mov r8,[rip+0x10]
  EXPECT_TRUE(in.rip_relative);
  EXPECT_EQ(in.reg, 8);
  EXPECT_EQ(in.osz, 8);
  in = dec({0x66, 0x81, 0xC3, 0x34, 0x12});  // add bx,0x1234
  EXPECT_EQ(in.len, 5);
  EXPECT_EQ(in.osz, 2);
  in = dec({0xF7, 0x05, 0, 0, 0, 0, 0x78, 0x56, 0x34, 0x12});  // test dword [rip+0],imm32
  EXPECT_EQ(in.len, 10);
  EXPECT_EQ(in.imm, 0x12345678u);
  in = dec({0x41, 0x0F, 0x1F, 0x44, 0x00, 0x00});  // nop dword [r8+rax]
  EXPECT_EQ(in.len, 6);
  in = dec({0xF3, 0x48, 0xAB});  // rep stosq
  EXPECT_EQ(in.rep, 0xF3);
  EXPECT_EQ(in.osz, 8);
  in = dec({0x64, 0x48, 0x8B, 0x04, 0x25, 0, 0, 0, 0});  // mov rax, fs:[0]
  EXPECT_EQ(in.seg, 4);
  EXPECT_EQ(in.base, -1);
  EXPECT_EQ(in.index, -1);
  in = dec({0x40}, 32);  // inc eax in 32-bit mode
  EXPECT_EQ(in.len, 1);
  EXPECT_EQ(in.op, 0x40);
  in = dec({0x8B, 0x05, 0x00, 0x10, 0, 0}, 32);  // mov eax,[0x1000]: absolute in 32-bit mode
  EXPECT_FALSE(in.rip_relative);
  EXPECT_EQ(in.disp, 0x1000);
}

TEST(EmuDecoder, SixteenBitModRmForms) {
  Insn in = dec({0x8B, 0x40, 0x04}, 16);  // mov ax,[bx+si+4]
  EXPECT_EQ(in.len, 3);
  EXPECT_EQ(in.osz, 2);
  EXPECT_EQ(in.asz, 2);
  EXPECT_EQ(in.base, 3);
  EXPECT_EQ(in.index, 6);
  EXPECT_EQ(in.disp, 4);
  in = dec({0x8B, 0x1E, 0x34, 0x12}, 16);  // mov bx,[0x1234]: mod 0 rm 6 is disp16 alone
  EXPECT_EQ(in.len, 4);
  EXPECT_EQ(in.base, -1);
  EXPECT_EQ(in.index, -1);
  EXPECT_EQ(in.disp, 0x1234);
  in = dec({0x8B, 0x46, 0xFE}, 16);  // mov ax,[bp-2]
  EXPECT_EQ(in.base, 5);
  EXPECT_EQ(in.index, -1);
  EXPECT_EQ(in.disp, -2);
  in = dec({0x8B, 0x81, 0x00, 0x80}, 16);  // mov ax,[bx+di-0x8000] (disp16 sign-extended)
  EXPECT_EQ(in.base, 3);
  EXPECT_EQ(in.index, 7);
  EXPECT_EQ(in.disp, -0x8000);
  EXPECT_EQ(in.len, 4);
  in = dec({0x66, 0x67, 0x8B, 0x04, 0x8B}, 16);  // mov eax,[ebx+ecx*4]: 32-bit forms by prefix
  EXPECT_EQ(in.osz, 4);
  EXPECT_EQ(in.asz, 4);
  EXPECT_EQ(in.scale, 2);
  EXPECT_EQ(in.len, 5);
  in = dec({0x67, 0x8B, 0x07}, 32);  // mov eax,[bx]: 0x67 in 32-bit code selects 16-bit addressing
  EXPECT_EQ(in.asz, 2);
  EXPECT_EQ(in.base, 3);
  EXPECT_EQ(in.len, 3);
  in = dec({0xB8, 0x34, 0x12}, 16);  // mov ax,0x1234: 16-bit immediate
  EXPECT_EQ(in.len, 3);
  in = dec({0xE8, 0x10, 0x00}, 16);  // call rel16
  EXPECT_EQ(in.len, 3);
  EXPECT_EQ(in.imm, 0x10u);
}

TEST(EmuDecoder, FarTransfersAndLegacyForms) {
  Insn in = dec({0xEA, 0x5B, 0xE0, 0x00, 0xF0}, 16);  // jmp F000:E05B
  EXPECT_EQ(in.len, 5);
  EXPECT_EQ(in.imm, 0xE05Bu);
  EXPECT_EQ(in.imm2, 0xF000);
  in = dec({0x66, 0xEA, 0x00, 0x10, 0x0F, 0x00, 0x08, 0x00}, 16);  // jmp dword 0x08:0xF1000
  EXPECT_EQ(in.len, 8);
  EXPECT_EQ(in.imm, 0xF1000u);
  EXPECT_EQ(in.imm2, 0x08);
  in = dec({0x9A, 0x00, 0x01, 0x00, 0x20}, 16);  // call 2000:0100
  EXPECT_EQ(in.len, 5);
  in = dec({0xCA, 0x04, 0x00}, 16);  // retf 4
  EXPECT_EQ(in.imm, 4u);
  in = dec({0xC8, 0x10, 0x00, 0x01}, 16);  // enter 16,1
  EXPECT_EQ(in.len, 4);
  EXPECT_EQ(in.imm, 16u);
  EXPECT_EQ(in.imm2, 1);
  in = dec({0xFF, 0x1E, 0x00, 0x05}, 16);  // call far [0x500]
  EXPECT_EQ(in.opreg(), 3);
  EXPECT_EQ(in.len, 4);
  in = dec({0x0F, 0xB2, 0x26, 0x00, 0x05}, 16);  // lss sp,[0x500]
  EXPECT_EQ(in.op, 0x0FB2);
  EXPECT_EQ(in.len, 5);
  in = dec({0x0F, 0xA4, 0xC2, 0x05}, 32);  // shld edx,eax,5
  EXPECT_EQ(in.imm, 5u);
  EXPECT_EQ(in.len, 4);
  for (uint8_t op : {0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x60, 0x61}) EXPECT_EQ(dec({op}, 16).len, 1);
  in = dec({0x0F, 0x01, 0xE0}, 16);  // smsw ax
  EXPECT_EQ(in.opreg(), 4);
  in = dec({0xE0, 0xFE}, 16);  // loopne
  EXPECT_EQ(in.len, 2);
}

TEST(EmuDecoder, RefusesOutsideTheSubset) {
  dec({0x0F, 0x05}, 64, DecodeStatus::kUnsupported);        // syscall
  dec({0xD9, 0xE8}, 64, DecodeStatus::kUnsupported);        // fld1
  dec({0xFF, 0x1C, 0x24}, 64, DecodeStatus::kUnsupported);  // call far [rsp]
  dec({0x63, 0xC0}, 32, DecodeStatus::kUnsupported);        // arpl
  dec({0xEA, 0, 0, 0, 0, 0, 0}, 64, DecodeStatus::kUnsupported);
  dec({0x06}, 64, DecodeStatus::kUnsupported);              // push es: not in 64-bit mode
  dec({0x60}, 64, DecodeStatus::kUnsupported);              // pusha
  dec({0x9A, 0, 0, 0, 0, 0, 0}, 64, DecodeStatus::kUnsupported);  // call far ptr
  dec({0x8E, 0xC8}, 16, DecodeStatus::kUnsupported);        // mov cs, ax
  dec({0xC4, 0xC0}, 16, DecodeStatus::kUnsupported);        // les with a register operand
  std::vector<uint8_t> prefixes(15, 0x66);
  Insn in;
  EXPECT_EQ(decode(prefixes.data(), 15, 64, in), DecodeStatus::kUnsupported);
  uint8_t partial[] = {0x48, 0xB8, 1, 2};
  EXPECT_EQ(decode(partial, sizeof(partial), 64, in), DecodeStatus::kNeedMore);
}

}  // namespace
}  // namespace kvpc::emu
