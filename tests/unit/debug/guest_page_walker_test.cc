#include "vmm/debug/guest_page_walker.h"

#include <gtest/gtest.h>

namespace kvpc::gdb {
namespace {

constexpr uint64_t kCr0Pg = 1ULL << 31;
constexpr uint64_t kCr4Pse = 1ULL << 4;
constexpr uint64_t kCr4Pae = 1ULL << 5;
constexpr uint64_t kEferLma = 1ULL << 10;

class PageWalkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = GuestMemory::create_pc(16ULL << 20);
    ASSERT_TRUE(m.ok());
    mem_ = std::move(m).value();
  }
  void w64(uint64_t gpa, uint64_t v) { ASSERT_TRUE(mem_.write_obj(gpa, v)); }
  void w32(uint64_t gpa, uint32_t v) { ASSERT_TRUE(mem_.write_obj(gpa, v)); }
  GuestMemory mem_;
};

TEST_F(PageWalkerTest, PagingOffIsIdentityTruncatedTo32BitsOutsideLongMode) {
  auto t = translate_guest_virtual(mem_, PagingRegs{0x11, 0, 0, 0}, 0x1'0000'1234ULL);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->gpa, 0x1234u);
}

TEST_F(PageWalkerTest, LongMode4KiB2MiBAnd1GiBPages) {
  const PagingRegs regs{kCr0Pg | 1, 0x1000, kCr4Pae, kEferLma | (1 << 8)};
  // Higher half: PML4[256] -> PDPT 0x2000; PDPT[0] -> PD 0x3000; PD[0] -> PT 0x4000; PT[5] -> 0x9000.
  w64(0x1000 + 256 * 8, 0x2000 | 3);
  w64(0x2000, 0x3000 | 3);
  w64(0x3000, 0x4000 | 3);
  w64(0x4000 + 5 * 8, 0x9000 | 3);
  // PD[1]: 2 MiB page at 0x600000. PDPT[1]: 1 GiB page at 0 (a big page, physical 0).
  w64(0x3000 + 8, 0x600000 | 0x83);
  w64(0x2000 + 8, 0x0 | 0x83);
  const uint64_t base = 0xFFFF800000000000ULL;
  auto small = translate_guest_virtual(mem_, regs, base + 5 * 0x1000 + 0x123);
  ASSERT_TRUE(small.ok()) << small.error().message;
  EXPECT_EQ(small->gpa, 0x9123u);
  EXPECT_EQ(small->page_size, 0x1000u);
  auto large = translate_guest_virtual(mem_, regs, base + 0x200000 + 0x54321);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->gpa, 0x654321u);
  EXPECT_EQ(large->page_size, 0x200000u);
  auto huge = translate_guest_virtual(mem_, regs, base + 0x40000000 + 0xABCDE);
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->gpa, 0xABCDEu);
  EXPECT_EQ(huge->page_size, 0x40000000u);
}

TEST_F(PageWalkerTest, LongModeUnmappedNonCanonicalAndTablesOutsideRamAreErrors) {
  const PagingRegs regs{kCr0Pg | 1, 0x1000, kCr4Pae, kEferLma};
  auto unmapped = translate_guest_virtual(mem_, regs, 0x1000);
  ASSERT_FALSE(unmapped.ok());
  EXPECT_NE(unmapped.error().message.find("PML4E"), std::string::npos) << unmapped.error().message;
  auto non_canonical = translate_guest_virtual(mem_, regs, 0x0000800000000000ULL);
  ASSERT_FALSE(non_canonical.ok());
  EXPECT_NE(non_canonical.error().message.find("canonical"), std::string::npos);
  w64(0x1000, 0xF0000000ULL | 3);  // PDPT in the PCI hole: not RAM
  auto outside = translate_guest_virtual(mem_, regs, 0x1000);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("outside guest RAM"), std::string::npos);
  auto hostile_cr3 = translate_guest_virtual(mem_, PagingRegs{kCr0Pg, 0x000FFFFFFFFFF000ULL, kCr4Pae, kEferLma}, 0);
  EXPECT_FALSE(hostile_cr3.ok());
}

TEST_F(PageWalkerTest, Pae32BitWith4KiBAnd2MiBPages) {
  const PagingRegs regs{kCr0Pg | 1, 0x1000, kCr4Pae, 0};
  w64(0x1000 + 3 * 8, 0x2000 | 1);        // PDPTE[3] (0xC0000000-)
  w64(0x2000 + 0 * 8, 0x3000 | 3);        // PDE[0] -> PT
  w64(0x3000 + 2 * 8, 0x7000 | 3);        // PTE[2]
  w64(0x2000 + 1 * 8, 0x400000 | 0x83);   // PDE[1]: 2 MiB at 0x400000
  auto small = translate_guest_virtual(mem_, regs, 0xC0002ABCULL);
  ASSERT_TRUE(small.ok()) << small.error().message;
  EXPECT_EQ(small->gpa, 0x7ABCu);
  auto large = translate_guest_virtual(mem_, regs, 0xC0212345ULL);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->gpa, 0x412345u);
  EXPECT_FALSE(translate_guest_virtual(mem_, regs, 0x00001000).ok()) << "PDPTE[0] not present";
}

TEST_F(PageWalkerTest, Legacy32BitWith4KiBAnd4MiBPages) {
  const PagingRegs regs{kCr0Pg | 1, 0x1000, kCr4Pse, 0};
  w32(0x1000 + 0x300 * 4, 0x2000 | 3);      // PDE[0x300] (0xC0000000) -> PT
  w32(0x2000 + 1 * 4, 0x5000 | 3);          // PTE[1]
  w32(0x1000 + 0x301 * 4, 0x800000 | 0x83); // PDE[0x301]: 4 MiB page at 0x800000
  auto small = translate_guest_virtual(mem_, regs, 0xC0001010ULL);
  ASSERT_TRUE(small.ok()) << small.error().message;
  EXPECT_EQ(small->gpa, 0x5010u);
  auto large = translate_guest_virtual(mem_, regs, 0xC0412345ULL);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->gpa, 0x812345u);
  EXPECT_EQ(large->page_size, 0x400000u);
  // Without CR4.PSE the PS bit is ignored: the PDE points at a page table instead.
  auto no_pse = translate_guest_virtual(mem_, PagingRegs{kCr0Pg | 1, 0x1000, 0, 0}, 0xC0412345ULL);
  EXPECT_FALSE(no_pse.ok() && no_pse->gpa == 0x812345u);
}

}  // namespace
}  // namespace kvpc::gdb
