#include "vmm/debug/x86_64_registers.h"

#include <gtest/gtest.h>

namespace kvpc::gdb {
namespace {

TEST(X86Registers, GPacketLayoutAndRoundTrip) {
  X86State s;
  s.regs.rax = 0x1122334455667788ULL;
  s.regs.rip = 0x100030;
  s.regs.rflags = 0x246;
  s.sregs.cs.selector = 0x08;
  s.sregs.fs.base = 0xABCD;
  s.sregs.cr0 = 0x80050033;
  s.sregs.efer = 0xD01;
  std::string g = encode_all_registers(s);
  // 17*8 + 7*4 + 8*10 + 8*4 + 2*8 + 5*8 bytes, two hex digits each.
  EXPECT_EQ(g.size(), 2u * (17 * 8 + 7 * 4 + 8 * 10 + 8 * 4 + 2 * 8 + 5 * 8));
  EXPECT_EQ(g.substr(0, 16), "8877665544332211");  // rax, little-endian
  EXPECT_EQ(*encode_register(s, kRipRegister), "3000100000000000");
  EXPECT_EQ(*encode_register(s, 17), "46020000");  // eflags, 32-bit
  EXPECT_EQ(*encode_register(s, 18), "08000000");  // cs
  EXPECT_EQ(*encode_register(s, 40), "cdab000000000000");  // fs_base
  EXPECT_EQ(*encode_register(s, 42), "3300058000000000");  // cr0
  EXPECT_EQ(*encode_register(s, 46), "010d000000000000");  // efer
  X86State back;
  ASSERT_TRUE(decode_all_registers(back, g));
  EXPECT_EQ(back.regs.rax, s.regs.rax);
  EXPECT_EQ(back.regs.rip, s.regs.rip);
  EXPECT_EQ(back.sregs.cr0, s.sregs.cr0);
  EXPECT_EQ(back.sregs.cs.selector, 0x08);
}

TEST(X86Registers, BadSizesAndNumbersAreRefused) {
  X86State s;
  s.regs.rbx = 7;
  EXPECT_FALSE(encode_register(s, -1));
  EXPECT_FALSE(encode_register(s, kRegisterCount));
  EXPECT_FALSE(decode_register(s, 1, "0700"));  // 2 bytes for a 64-bit register
  EXPECT_FALSE(decode_register(s, 1, "zz00000000000000"));
  EXPECT_FALSE(decode_all_registers(s, "00"));
  EXPECT_EQ(s.regs.rbx, 7u) << "a refused write changes nothing";
  ASSERT_TRUE(decode_register(s, 17, "02000000"));
  EXPECT_EQ(s.regs.rflags, 2u);
}

TEST(X86Registers, TargetXmlNamesTheFeaturesGdbNeeds) {
  std::string_view xml = x86_64_target_xml();
  EXPECT_NE(xml.find("<architecture>i386:x86-64</architecture>"), std::string_view::npos);
  EXPECT_NE(xml.find("org.gnu.gdb.i386.core"), std::string_view::npos);
  EXPECT_NE(xml.find("org.gnu.gdb.i386.segments"), std::string_view::npos);
  EXPECT_NE(xml.find("name=\"cr3\""), std::string_view::npos);
  EXPECT_NE(xml.find("name=\"efer\""), std::string_view::npos);
  size_t regs = 0;
  for (size_t at = xml.find("<reg "); at != std::string_view::npos; at = xml.find("<reg ", at + 1)) ++regs;
  EXPECT_EQ(regs, static_cast<size_t>(kRegisterCount));
}

}  // namespace
}  // namespace kvpc::gdb
