#include "vmm/pio_bus.h"

#include <gtest/gtest.h>

#include "tests/unit/vmm/recording_device.h"

namespace kvpc {
namespace {

using testing::RecordingDevice;

TEST(PioBus, DeviceSeesOffsetsNotPorts) {
  PioBus bus;
  RecordingDevice uart("uart");
  ASSERT_TRUE(bus.add(&uart, 0x3F8, 8).ok());
  uint8_t byte = 0x41;
  EXPECT_EQ(bus.write(0x3FD, std::span<const uint8_t>(&byte, 1)), &uart);
  ASSERT_EQ(uart.accesses.size(), 1u);
  EXPECT_TRUE(uart.accesses[0].write);
  EXPECT_EQ(uart.accesses[0].offset, 5u);
  EXPECT_EQ(uart.accesses[0].value, 0x41u);
}

TEST(PioBus, ReadFillsDataFromDevice) {
  PioBus bus;
  RecordingDevice device("dev", 0x1000);
  ASSERT_TRUE(bus.add(&device, 0x100, 4).ok());
  uint8_t data[2] = {};
  bus.read(0x102, data);
  EXPECT_EQ(data[0], 0x02);
  EXPECT_EQ(data[1], 0x10);
}

TEST(PioBus, DispatchReturnsTheClaimThatAnsweredWithItsBaseAndStatisticsIndex) {
  // The exit handler takes the device, base and statistics slot from this one lookup.
  PioBus bus;
  RecordingDevice first("first"), uart("uart");
  ASSERT_TRUE(bus.add(&first, 0x60, 1).ok());
  ASSERT_TRUE(bus.add(&uart, 0x3F8, 8).ok());
  uint8_t byte = 0x41;
  const PioBus::Claim* claim = bus.dispatch_write(0x3FD, std::span<const uint8_t>(&byte, 1));
  ASSERT_NE(claim, nullptr);
  EXPECT_EQ(claim->device, &uart);
  EXPECT_EQ(claim->base, 0x3F8);
  EXPECT_EQ(claim->range, 1u);
  EXPECT_EQ(claim->range, bus.range_index(0x3FD));
  ASSERT_EQ(uart.accesses.size(), 1u);
  uint8_t data = 0;
  claim = bus.dispatch_read(0x60, std::span<uint8_t>(&data, 1));
  ASSERT_NE(claim, nullptr);
  EXPECT_EQ(claim->range, 0u);
  EXPECT_EQ(bus.dispatch_read(0x61, std::span<uint8_t>(&data, 1)), nullptr);
  EXPECT_EQ(data, 0xFF);
}

TEST(PioBus, UnclaimedReadReturnsAllOnesAndIsCounted) {
  PioBus bus;
  uint8_t data[4] = {1, 2, 3, 4};
  EXPECT_EQ(bus.read(0x1234, data), nullptr);
  for (uint8_t b : data) EXPECT_EQ(b, 0xFF);
  EXPECT_EQ(bus.unclaimed_reads(), 1u);
}

TEST(PioBus, UnclaimedWriteIsDroppedAndCounted) {
  PioBus bus;
  uint8_t data = 7;
  EXPECT_EQ(bus.write(0x80, std::span<const uint8_t>(&data, 1)), nullptr);
  EXPECT_EQ(bus.unclaimed_writes(), 1u);
}

TEST(PioBus, RejectsOverlapNamingBothDevices) {
  PioBus bus;
  RecordingDevice a("alpha"), b("beta");
  ASSERT_TRUE(bus.add(&a, 0x60, 1).ok());
  auto status = bus.add(&b, 0x5F, 2);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("beta"), std::string::npos);
  EXPECT_NE(status.error().message.find("alpha"), std::string::npos);
  // The failed registration claimed nothing.
  uint8_t data;
  EXPECT_EQ(bus.read(0x5F, std::span<uint8_t>(&data, 1)), nullptr);
}

TEST(PioBus, AdjacentRangesDoNotOverlap) {
  PioBus bus;
  RecordingDevice a("a"), b("b");
  ASSERT_TRUE(bus.add(&a, 0x60, 1).ok());
  ASSERT_TRUE(bus.add(&b, 0x61, 1).ok());
  EXPECT_EQ(bus.device_at(0x60), &a);
  EXPECT_EQ(bus.device_at(0x61), &b);
}

TEST(PioBus, RejectsZeroLength) {
  PioBus bus;
  RecordingDevice a("a");
  EXPECT_FALSE(bus.add(&a, 0x60, 0).ok());
}

TEST(PioBus, AcceptsLastPortAndRejectsRangePastIt) {
  PioBus bus;
  RecordingDevice a("a"), b("b");
  EXPECT_TRUE(bus.add(&a, 0xFFFF, 1).ok());
  EXPECT_FALSE(bus.add(&b, 0xFFFE, 3).ok());
}

TEST(PioBus, RejectsNullDeviceAndAddAfterFreeze) {
  PioBus bus;
  EXPECT_FALSE(bus.add(nullptr, 0x10, 1).ok());
  RecordingDevice a("a");
  bus.freeze();
  auto status = bus.add(&a, 0x10, 1);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("frozen"), std::string::npos);
}

}  // namespace
}  // namespace kvpc

namespace kvpc {
namespace {

TEST(PioBus, MapAndUnmapWorkAfterFreezeButAddDoesNot) {
  PioBus bus;
  testing::RecordingDevice bar("bar");
  testing::RecordingDevice other("other");
  ASSERT_TRUE(bus.add(&other, 0x100, 4).ok());
  bus.freeze();
  EXPECT_FALSE(bus.add(&bar, 0x200, 4).ok());
  ASSERT_TRUE(bus.map(&bar, 0x200, 4).ok());
  EXPECT_EQ(bus.device_at(0x203), &bar);
  EXPECT_FALSE(bus.map(&bar, 0xFE, 4).ok()) << "overlaps other";
  EXPECT_EQ(bus.device_at(0xFE), nullptr) << "a refused map changes nothing";
  bus.unmap(&bar, 0x200, 4);
  EXPECT_EQ(bus.device_at(0x200), nullptr);
  ASSERT_TRUE(bus.map(&bar, 0x300, 4).ok());
  uint8_t byte = 0;
  EXPECT_EQ(bus.write(0x302, std::span<const uint8_t>(&byte, 1)), &bar);
  EXPECT_EQ(bar.accesses.back().offset, 2u) << "offsets from the new base";
  bus.unmap(&other, 0x300, 4);  // wrong device: ignored
  EXPECT_EQ(bus.device_at(0x300), &bar);
  ASSERT_EQ(bus.ranges().size(), 2u);
}

TEST(PioBus, ABarMovedBackAndForthForeverPublishesOneEntryPerPlace) {
  // A hostile guest can rewrite a BAR in a loop; the never-freed entries must not grow with it.
  PioBus bus;
  RecordingDevice bar("bar");
  ASSERT_TRUE(bus.add(&bar, 0xC000, 0x40).ok());
  bus.freeze();
  const size_t after_setup = bus.published_entries();
  for (int i = 0; i < 10000; ++i) {
    const uint16_t from = (i % 2) == 0 ? 0xC000 : 0xD000;
    const uint16_t to = (i % 2) == 0 ? 0xD000 : 0xC000;
    bus.unmap(&bar, from, 0x40);
    ASSERT_TRUE(bus.map(&bar, to, 0x40).ok());
  }
  EXPECT_EQ(bus.published_entries(), after_setup + 1);  // 0xC000 and 0xD000
  uint8_t byte = 0x5A;
  const PioBus::Claim* claim = bus.dispatch_write(0xC004, std::span<const uint8_t>(&byte, 1));
  ASSERT_NE(claim, nullptr);  // 10000 moves end where it started
  EXPECT_EQ(claim->base, 0xC000);
  EXPECT_EQ(bus.dispatch_write(0xD004, std::span<const uint8_t>(&byte, 1)), nullptr);
}

}  // namespace
}  // namespace kvpc
