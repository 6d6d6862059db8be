#include "vmm/guest_memory.h"

#include <gtest/gtest.h>

#include <vector>

namespace kvpc {
namespace {

TEST(GuestMemory, PcLayoutSplitsAroundThePciHole) {
  auto memory = GuestMemory::create_pc(4ULL << 30);
  ASSERT_TRUE(memory.ok()) << memory.error().message;
  ASSERT_EQ(memory->regions().size(), 3u);
  EXPECT_EQ(memory->regions()[0].gpa, 0u);
  EXPECT_EQ(memory->regions()[0].size, GuestMemory::kVgaWindowStart);
  EXPECT_EQ(memory->regions()[1].gpa, GuestMemory::kVgaWindowEnd);
  EXPECT_EQ(memory->regions()[1].size, GuestMemory::kPciHoleStart - GuestMemory::kVgaWindowEnd);
  EXPECT_EQ(memory->regions()[2].gpa, GuestMemory::k4GiB);
  EXPECT_EQ(memory->regions()[2].size, (4ULL << 30) - GuestMemory::kPciHoleStart);
  EXPECT_FALSE(memory->span(GuestMemory::kVgaWindowStart, 1).has_value()) << "the VGA window is a device, not RAM";
  EXPECT_EQ(memory->ram_bytes(), 4ULL << 30);
}

TEST(GuestMemory, RejectsTooSmallTooLargeAndUnaligned) {
  EXPECT_FALSE(GuestMemory::create_pc(0).ok());
  EXPECT_FALSE(GuestMemory::create_pc(512 * 1024).ok());
  EXPECT_FALSE(GuestMemory::create_pc(GuestMemory::kMaxRamBytes + 4096).ok());
  EXPECT_FALSE(GuestMemory::create_pc((64ULL << 20) + 1).ok());
}

TEST(GuestMemory, ReadWriteRoundTripAndBounds) {
  auto memory = GuestMemory::create_pc(16ULL << 20);
  ASSERT_TRUE(memory.ok());
  std::vector<uint8_t> data = {1, 2, 3, 4};
  EXPECT_TRUE(memory->write(0x1000, data));
  std::vector<uint8_t> back(4);
  EXPECT_TRUE(memory->read(0x1000, back));
  EXPECT_EQ(back, data);
  // The last 4 bytes are fine; one byte further is not.
  EXPECT_TRUE(memory->write((16ULL << 20) - 4, data));
  EXPECT_FALSE(memory->write((16ULL << 20) - 3, data));
  EXPECT_FALSE(memory->read(0xFFFFFFFFFFFFFFFEULL, back));  // would wrap
  EXPECT_FALSE(memory->span(16ULL << 20, 1).has_value());
}

TEST(GuestMemory, SpanNeverCrossesRegions) {
  auto memory = GuestMemory::create_pc(4ULL << 30);
  ASSERT_TRUE(memory.ok());
  EXPECT_TRUE(memory->span(GuestMemory::kPciHoleStart - 8, 8).has_value());
  EXPECT_FALSE(memory->span(GuestMemory::kPciHoleStart - 8, 16).has_value());
}

TEST(GuestMemory, RomRejectsGuestWritesButLoadersMayFillIt) {
  auto memory = GuestMemory::create_pc(16ULL << 20);
  ASSERT_TRUE(memory.ok());
  ASSERT_TRUE(memory->add_region("firmware", 0xFFFF0000, 0x10000, true).ok());
  uint8_t byte = 0xEA;
  EXPECT_FALSE(memory->write(0xFFFFFFF0, std::span<const uint8_t>(&byte, 1)));
  EXPECT_TRUE(memory->write(0xFFFFFFF0, std::span<const uint8_t>(&byte, 1), /*allow_rom=*/true));
  EXPECT_EQ(memory->read_obj<uint8_t>(0xFFFFFFF0), 0xEA);
  EXPECT_EQ(memory->ram_bytes(), 16ULL << 20);
}

TEST(GuestMemory, DeviceRegionsAreNeitherRamNorInTheMemoryMap) {
  auto memory = GuestMemory::create_pc(16ULL << 20);
  ASSERT_TRUE(memory.ok());
  auto lfb = memory->add_device_region("vga-lfb", 0xFD000000, 16ULL << 20, /*log_dirty=*/true);
  ASSERT_TRUE(lfb.ok()) << lfb.error().message;
  EXPECT_EQ(memory->ram_bytes(), 16ULL << 20);
  for (const auto& entry : memory->e820()) EXPECT_LT(entry.addr, 0xFD000000u);
  const MemoryRegion* region = memory->region_at(0xFD000000);
  ASSERT_NE(region, nullptr);
  EXPECT_TRUE(region->device);
  EXPECT_TRUE(region->log_dirty);
  EXPECT_TRUE(memory->span(0xFD000000, 4).has_value()) << "the VMM still reaches it through checked spans";
}

TEST(GuestMemory, AddRegionRejectsOverlapZeroAndMisalignment) {
  auto memory = GuestMemory::create_pc(16ULL << 20);
  ASSERT_TRUE(memory.ok());
  EXPECT_FALSE(memory->add_region("x", 0x100000, 0x1000, false).ok());
  EXPECT_FALSE(memory->add_region("x", 0xF0000000, 0, false).ok());
  EXPECT_FALSE(memory->add_region("x", 0xF0000800, 0x1000, false).ok());
  EXPECT_FALSE(memory->add_region("x", 0xFFFFFFFFFFFFF000ULL, 0x2000, false).ok());
}

TEST(GuestMemory, E820ReservesTheLegacyWindow) {
  auto memory = GuestMemory::create_pc(64ULL << 20);
  ASSERT_TRUE(memory.ok());
  auto map = memory->e820();
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[0].addr, 0u);
  EXPECT_EQ(map[0].size, 0xA0000u);
  EXPECT_EQ(map[0].type, E820Entry::kRam);
  EXPECT_EQ(map[1].addr, 0xA0000u);
  EXPECT_EQ(map[1].type, E820Entry::kReserved);
  EXPECT_EQ(map[2].addr, 0x100000u);
  EXPECT_EQ(map[2].size, (64ULL << 20) - 0x100000);
}

TEST(ParseSize, AcceptsUnitsAndRejectsGarbage) {
  EXPECT_EQ(parse_size("64M").value(), 64ULL << 20);
  EXPECT_EQ(parse_size("1G").value(), 1ULL << 30);
  EXPECT_EQ(parse_size("512K").value(), 512ULL << 10);
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("2GiB").value(), 2ULL << 30);
  EXPECT_FALSE(parse_size("").ok());
  EXPECT_FALSE(parse_size("0").ok());
  EXPECT_FALSE(parse_size("M").ok());
  EXPECT_FALSE(parse_size("12Q").ok());
  EXPECT_FALSE(parse_size("-1").ok());
  EXPECT_FALSE(parse_size("99999999999999999999").ok());
  EXPECT_FALSE(parse_size("17179869184G").ok());  // overflows 64 bits once shifted
}

}  // namespace
}  // namespace kvpc
