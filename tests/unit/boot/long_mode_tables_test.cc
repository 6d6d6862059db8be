// The host-built long-mode tables, checked the way the CPU uses them: the page tables by
// walking them, the GDT and TSS against the values docs/boot-protocol.md documents.
#include "vmm/boot/long_mode_tables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using test::guest_u64;
using ::testing::HasSubstr;

constexpr uint64_t kGiB = 1ULL << 30;
constexpr uint64_t kPresent = 1, kWritable = 2, kUser = 4, kPageSize = 0x80;
constexpr uint64_t kAddressMask = 0x000FFFFFFFFFF000ULL;

struct Walk {
  std::optional<uint64_t> physical;
  uint64_t pde_flags = 0;
};

// A 4-level walk as the MMU does it, stopping at a 2 MiB page. Every level must be present,
// writable and user-accessible, as the protocol promises.
Walk walk(const GuestMemory& memory, uint64_t cr3, uint64_t va) {
  uint64_t pml4e = guest_u64(memory, (cr3 & kAddressMask) + ((va >> 39) & 511) * 8);
  if (!(pml4e & kPresent)) return {};
  EXPECT_EQ(pml4e & (kWritable | kUser), kWritable | kUser);
  uint64_t pdpte = guest_u64(memory, (pml4e & kAddressMask) + ((va >> 30) & 511) * 8);
  if (!(pdpte & kPresent)) return {};
  EXPECT_EQ(pdpte & (kWritable | kUser | kPageSize), kWritable | kUser);
  uint64_t pde = guest_u64(memory, (pdpte & kAddressMask) + ((va >> 21) & 511) * 8);
  if (!(pde & kPresent)) return {};
  EXPECT_TRUE(pde & kPageSize) << "PDEs map 2 MiB pages";
  return {(pde & 0x000FFFFFFFE00000ULL) + (va & 0x1FFFFF), pde & 0xFFF};
}

class LongModeTablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::move(GuestMemory::create_pc(64ULL << 20).value());
    test::fill_guest(memory_, 0, 0x10000, 0xAA);  // stale bytes everywhere in the boot area
    auto s = build_long_mode_tables(memory_, 0x123450, state_);
    ASSERT_TRUE(s) << s.error().message;
  }
  GuestMemory memory_;
  CpuEntryState state_;
};

TEST_F(LongModeTablesTest, EntryStateFields) {
  EXPECT_EQ(state_.mode, CpuEntryState::Mode::kLong64);
  EXPECT_EQ(state_.cr3, 0x1000u);
  EXPECT_EQ(state_.gdt_base, 0x7000u);
  EXPECT_EQ(state_.gdt_limit, 0x3Fu);
  EXPECT_EQ(state_.idt_base, 0u);
  EXPECT_EQ(state_.idt_limit, 0u);
  EXPECT_EQ(state_.tss_base, 0x7100u);
  EXPECT_EQ(state_.tss_limit, 0x2068u);
  EXPECT_EQ(state_.code_selector, 0x08u);
  EXPECT_EQ(state_.data_selector64, 0x10u);
  EXPECT_EQ(state_.tss_selector, 0x30u);
}

TEST_F(LongModeTablesTest, IdentityMapsTheFirst4GiBWith2MiBPages) {
  for (uint64_t va : {0x0ULL, 0x1000ULL, 0x1FFFFFULL, 0x200000ULL, 0x1234567ULL, 0x3FFFFFFFULL, 0x40000000ULL,
                      0xBFFFFFFFULL, 0xC0000000ULL, 0xFEC00000ULL, 0xFFFFFFF0ULL, 0xFFFFFFFFULL}) {
    Walk w = walk(memory_, state_.cr3, va);
    ASSERT_TRUE(w.physical) << std::hex << va;
    EXPECT_EQ(*w.physical, va) << std::hex << va;
    EXPECT_EQ(w.pde_flags, kPresent | kWritable | kUser | kPageSize) << std::hex << va;
  }
  // Every one of the 2048 PDEs, not just samples.
  for (uint64_t page = 0; page < 2048; ++page) {
    EXPECT_EQ(guest_u64(memory_, 0x3000 + page * 8), (page << 21) | 0x87) << page;
  }
}

TEST_F(LongModeTablesTest, NothingAbove4GiBIsMapped) {
  EXPECT_FALSE(walk(memory_, state_.cr3, 4 * kGiB).physical);
  EXPECT_FALSE(walk(memory_, state_.cr3, 512 * kGiB).physical);
  EXPECT_FALSE(walk(memory_, state_.cr3, 0xFFFFFFFF80000000ULL).physical);
  // The stale 0xAA bytes are gone from every unused entry.
  for (uint64_t i = 1; i < 512; ++i) EXPECT_EQ(guest_u64(memory_, 0x1000 + i * 8), 0u) << i;
  for (uint64_t i = 4; i < 512; ++i) EXPECT_EQ(guest_u64(memory_, 0x2000 + i * 8), 0u) << i;
}

TEST_F(LongModeTablesTest, TopLevelEntries) {
  EXPECT_EQ(guest_u64(memory_, 0x1000), 0x2000u | 7);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(guest_u64(memory_, 0x2000 + i * 8), (0x3000 + i * 0x1000) | 7);
}

TEST_F(LongModeTablesTest, GdtHoldsTheDocumentedDescriptors) {
  EXPECT_EQ(guest_u64(memory_, 0x7000), 0u);                      // null
  EXPECT_EQ(guest_u64(memory_, 0x7008), 0x00AF9B000000FFFFULL);   // 64-bit code, DPL0
  EXPECT_EQ(guest_u64(memory_, 0x7010), 0x00CF93000000FFFFULL);   // data, DPL0
  EXPECT_EQ(guest_u64(memory_, 0x7018), 0x00CFFB000000FFFFULL);   // 32-bit code, DPL3
  EXPECT_EQ(guest_u64(memory_, 0x7020), 0x00CFF3000000FFFFULL);   // data, DPL3
  EXPECT_EQ(guest_u64(memory_, 0x7028), 0x00AFFB000000FFFFULL);   // 64-bit code, DPL3
  EXPECT_EQ(guest_u64(memory_, 0x7030), 0x00008B0071002068ULL);   // busy 64-bit TSS, base 0x7100, limit 0x2068
  EXPECT_EQ(guest_u64(memory_, 0x7038), 0u);                      // TSS base bits 63:32
}

TEST_F(LongModeTablesTest, GdtDescriptorsDecodeAsDocumented) {
  auto field = [&](uint16_t selector, int shift, uint64_t mask) {
    return (guest_u64(memory_, 0x7000 + selector) >> shift) & mask;
  };
  constexpr int kAccess = 40, kFlags = 52;
  // 64-bit code: L=1 D=0; 32-bit code: L=0 D=1.
  EXPECT_EQ(field(0x08, kFlags, 0xF), 0xAu);
  EXPECT_EQ(field(0x28, kFlags, 0xF), 0xAu);
  EXPECT_EQ(field(0x18, kFlags, 0xF), 0xCu);
  // DPL in access bits 5-6.
  EXPECT_EQ(field(0x08, kAccess + 5, 3), 0u);
  EXPECT_EQ(field(0x10, kAccess + 5, 3), 0u);
  EXPECT_EQ(field(0x18, kAccess + 5, 3), 3u);
  EXPECT_EQ(field(0x20, kAccess + 5, 3), 3u);
  EXPECT_EQ(field(0x28, kAccess + 5, 3), 3u);
  EXPECT_EQ(field(0x30, kAccess, 0xF), 0xBu);  // busy 64-bit TSS
}

TEST_F(LongModeTablesTest, TssFields) {
  EXPECT_EQ(test::guest_u32(memory_, 0x7100), 0u);
  EXPECT_EQ(guest_u64(memory_, 0x7104), 0x123450u);  // RSP0
  EXPECT_EQ(guest_u64(memory_, 0x710C), 0u);         // RSP1
  EXPECT_EQ(guest_u64(memory_, 0x7124), 0u);         // IST1
  EXPECT_EQ(memory_.read_obj<uint16_t>(0x7100 + 102).value(), 0x68u);  // I/O map base
  EXPECT_EQ(test::guest_bytes(memory_, 0x7168, 8192), Bytes(8192, 0));  // every port allowed
  EXPECT_EQ(memory_.read_obj<uint8_t>(0x7100 + 0x68 + 8192).value(), 0xFFu);  // terminator
  EXPECT_EQ(0x7100u + state_.tss_limit, 0x7100u + 0x68 + 8192) << "the limit covers the terminator";
  EXPECT_EQ(kLongModeTablesEnd, 0x9169u);
  // Bytes after the TSS are not the tables' business.
  EXPECT_EQ(memory_.read_obj<uint8_t>(kLongModeTablesEnd).value(), 0xAAu);
}

TEST(LongModeTables, NeedsRamUnderTheTables) {
  GuestMemory memory;
  ASSERT_TRUE(memory.add_region("high", 0x100000, 0x100000, false));
  CpuEntryState state;
  auto s = build_long_mode_tables(memory, 0, state);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("guest RAM does not cover [0x1000, 0x9169)"));
  EXPECT_EQ(state.mode, CpuEntryState::Mode::kReal16) << "state untouched on failure";
}

}  // namespace
}  // namespace kvpc
