#include "vmm/boot/firmware_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

constexpr uint64_t kKiB = 1024, kMiB = 1024 * 1024;
constexpr uint64_t k4GiB = 1ULL << 32;

class FirmwareLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { memory_ = std::move(GuestMemory::create_pc(64 * kMiB).value()); }
  const MemoryRegion* firmware_region() const {
    for (const auto& r : memory_.regions()) {
      if (r.name == "firmware") return &r;
    }
    return nullptr;
  }
  GuestMemory memory_;
};

TEST_F(FirmwareLoaderTest, StartsAtTheResetVector) {
  auto r = load_firmware(test::pattern(64 * kKiB, 1), memory_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kReal16);
  EXPECT_EQ(r->cs_selector, 0xF000u);
  EXPECT_EQ(r->cs_base, 0xFFFF0000u);
  EXPECT_EQ(r->rip, 0xFFF0u);
  EXPECT_EQ(r->cs_base + r->rip, 0xFFFFFFF0u);
  EXPECT_EQ(r->data_selector, 0u);
  EXPECT_EQ(r->rsp, 0u);
  EXPECT_EQ(r->rflags, 0x2u);
}

TEST_F(FirmwareLoaderTest, SmallRomIsMappedAtTheTopAndCopiedBelow1MiB) {
  Bytes image = test::pattern(64 * kKiB, 1);
  ASSERT_TRUE(load_firmware(image, memory_));
  const MemoryRegion* rom = firmware_region();
  ASSERT_NE(rom, nullptr);
  EXPECT_EQ(rom->gpa, 0xFFFF0000u);
  EXPECT_EQ(rom->size, 64 * kKiB);
  EXPECT_TRUE(rom->read_only);
  EXPECT_EQ(test::guest_bytes(memory_, 0xFFFF0000, image.size()), image);
  EXPECT_EQ(test::guest_bytes(memory_, 0xF0000, image.size()), image);  // all 64 KiB, ending at 1 MiB
  EXPECT_EQ(memory_.ram_bytes(), 64 * kMiB) << "the ROM is not RAM";
}

TEST_F(FirmwareLoaderTest, LowCopyIsTheLast128KiB) {
  Bytes image = test::pattern(256 * kKiB, 2);
  ASSERT_TRUE(load_firmware(image, memory_));
  EXPECT_EQ(firmware_region()->gpa, k4GiB - 256 * kKiB);
  EXPECT_EQ(test::guest_bytes(memory_, k4GiB - 256 * kKiB, image.size()), image);
  EXPECT_EQ(test::guest_bytes(memory_, 0xE0000, 128 * kKiB), Bytes(image.end() - 128 * kKiB, image.end()));
}

TEST_F(FirmwareLoaderTest, Exactly128KiBGoesTo0xE0000) {
  Bytes image = test::pattern(128 * kKiB, 3);
  ASSERT_TRUE(load_firmware(image, memory_));
  EXPECT_EQ(test::guest_bytes(memory_, 0xE0000, image.size()), image);
}

TEST_F(FirmwareLoaderTest, Largest16MiB) {
  Bytes image = test::pattern(16 * kMiB, 4);
  ASSERT_TRUE(load_firmware(image, memory_));
  EXPECT_EQ(firmware_region()->gpa, 0xFF000000u);
  EXPECT_EQ(test::guest_bytes(memory_, 0xFFFFFFF0, 16), Bytes(image.end() - 16, image.end()));
}

TEST_F(FirmwareLoaderTest, TheGuestCannotWriteTheRom) {
  ASSERT_TRUE(load_firmware(test::pattern(64 * kKiB, 1), memory_));
  Bytes one = {0};
  EXPECT_FALSE(memory_.write(0xFFFF0000, one));
}

TEST_F(FirmwareLoaderTest, SizeErrors) {
  auto error_of = [&](uint64_t size) {
    auto r = load_firmware(Bytes(size, 1), memory_);
    return r ? std::string("<ok>") : r.error().message;
  };
  EXPECT_EQ(error_of(0), "firmware image is empty");
  EXPECT_EQ(error_of(64 * kKiB - 1), "firmware image is 65535 bytes, not a multiple of 64 KiB (65536 bytes)");
  EXPECT_THAT(error_of(64 * kKiB + 512), HasSubstr("not a multiple of 64 KiB"));
  EXPECT_EQ(error_of(16 * kMiB + 64 * kKiB), "firmware image is 16842752 bytes, more than the 16 MiB kvpc maps");
  EXPECT_EQ(firmware_region(), nullptr) << "no region added on failure";
}

TEST_F(FirmwareLoaderTest, LoadingTwiceIsRefused) {
  ASSERT_TRUE(load_firmware(test::pattern(64 * kKiB, 1), memory_));
  auto r = load_firmware(test::pattern(64 * kKiB, 1), memory_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("cannot map the firmware at 0xffff0000"));
  EXPECT_THAT(r.error().message, HasSubstr("overlaps 'firmware'"));
}

TEST(FirmwareLoader, WorksWithRamAbove4GiB) {
  auto memory = std::move(GuestMemory::create_pc(4ULL << 30).value());
  ASSERT_TRUE(load_firmware(test::pattern(64 * kKiB, 1), memory));
}

TEST(FirmwareLoader, NeedsRamForTheLowCopy) {
  GuestMemory memory;
  ASSERT_TRUE(memory.add_region("high", 0x100000, 0x100000, false));
  auto r = load_firmware(test::pattern(128 * kKiB, 1), memory);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("guest RAM does not cover [0xe0000, 0x100000)"));
}

}  // namespace
}  // namespace kvpc
