#include "vmm/mmio_bus.h"

#include <gtest/gtest.h>

#include "tests/unit/vmm/recording_device.h"

namespace kvpc {
namespace {

using testing::RecordingDevice;

TEST(MmioBus, FindsRangeByAddressAndPassesOffset) {
  MmioBus bus;
  RecordingDevice a("a"), b("b");
  ASSERT_TRUE(bus.add(&b, 0xE0001000, 0x1000).ok());
  ASSERT_TRUE(bus.add(&a, 0xE0000000, 0x1000).ok());
  MmioBus::Cache cache;
  uint8_t value[4] = {1, 0, 0, 0};
  EXPECT_EQ(bus.write(0xE0001010, value, cache), &b);
  ASSERT_EQ(b.accesses.size(), 1u);
  EXPECT_EQ(b.accesses[0].offset, 0x10u);
  EXPECT_EQ(bus.write(0xE0000FFC, value, cache), &a);
  EXPECT_EQ(a.accesses[0].offset, 0xFFCu);
}

TEST(MmioBus, BoundariesAreExact) {
  MmioBus bus;
  RecordingDevice a("a");
  ASSERT_TRUE(bus.add(&a, 0x1000, 0x100).ok());
  MmioBus::Cache cache;
  EXPECT_EQ(bus.find(0xFFF, cache), nullptr);
  EXPECT_NE(bus.find(0x1000, cache), nullptr);
  EXPECT_NE(bus.find(0x10FF, cache), nullptr);
  EXPECT_EQ(bus.find(0x1100, cache), nullptr);
}

TEST(MmioBus, LastHitCacheDoesNotAnswerForOtherRanges) {
  MmioBus bus;
  RecordingDevice a("a"), b("b");
  ASSERT_TRUE(bus.add(&a, 0x1000, 0x100).ok());
  ASSERT_TRUE(bus.add(&b, 0x2000, 0x100).ok());
  MmioBus::Cache cache;
  EXPECT_EQ(bus.find(0x1010, cache)->device, &a);
  EXPECT_EQ(bus.find(0x2010, cache)->device, &b);
  EXPECT_EQ(bus.find(0x1500, cache), nullptr);
  EXPECT_EQ(bus.find(0x1010, cache)->device, &a);
}

TEST(MmioBus, UnclaimedReadIsAllOnes) {
  MmioBus bus;
  MmioBus::Cache cache;
  uint8_t data[8] = {};
  EXPECT_EQ(bus.read(0xD0000000, data, cache), nullptr);
  for (uint8_t byte : data) EXPECT_EQ(byte, 0xFF);
  EXPECT_EQ(bus.unclaimed_reads(), 1u);
}

TEST(MmioBus, RejectsOverlapOnEitherSide) {
  MmioBus bus;
  RecordingDevice a("a"), b("b");
  ASSERT_TRUE(bus.add(&a, 0x2000, 0x1000).ok());
  EXPECT_FALSE(bus.add(&b, 0x1800, 0x1000).ok());  // runs into a
  EXPECT_FALSE(bus.add(&b, 0x2FFF, 0x10).ok());    // starts inside a
  EXPECT_FALSE(bus.add(&b, 0x1000, 0x3000).ok());  // covers a
  EXPECT_TRUE(bus.add(&b, 0x3000, 0x10).ok());     // adjacent
  EXPECT_TRUE(bus.add(&b, 0x1000, 0x1000).ok());   // adjacent below
}

TEST(MmioBus, RejectsZeroLengthAndWrapAround) {
  MmioBus bus;
  RecordingDevice a("a");
  EXPECT_FALSE(bus.add(&a, 0x1000, 0).ok());
  EXPECT_FALSE(bus.add(&a, 0xFFFFFFFFFFFFF000ULL, 0x2000).ok());
  EXPECT_TRUE(bus.add(&a, 0xFFFFFFFFFFFFF000ULL, 0x1000).ok());  // ends exactly at 2^64
}

TEST(MmioBus, RejectsAddAfterFreeze) {
  MmioBus bus;
  RecordingDevice a("a");
  bus.freeze();
  EXPECT_FALSE(bus.add(&a, 0x1000, 0x10).ok());
}

}  // namespace
}  // namespace kvpc
