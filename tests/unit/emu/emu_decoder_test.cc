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

TEST(EmuDecoder, RefusesOutsideTheSubset) {
  dec({0x0F, 0x05}, 64, DecodeStatus::kUnsupported);        // syscall
  dec({0xD9, 0xE8}, 64, DecodeStatus::kUnsupported);        // fld1
  dec({0xFF, 0x1C, 0x24}, 64, DecodeStatus::kUnsupported);  // call far [rsp]
  dec({0x63, 0xC0}, 32, DecodeStatus::kUnsupported);        // arpl
  dec({0xEA, 0, 0, 0, 0, 0, 0}, 64, DecodeStatus::kUnsupported);
  std::vector<uint8_t> prefixes(15, 0x66);
  Insn in;
  EXPECT_EQ(decode(prefixes.data(), 15, 64, in), DecodeStatus::kUnsupported);
  uint8_t partial[] = {0x48, 0xB8, 1, 2};
  EXPECT_EQ(decode(partial, sizeof(partial), 64, in), DecodeStatus::kNeedMore);
}

}  // namespace
}  // namespace kvpc::emu
