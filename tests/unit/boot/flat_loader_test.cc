#include "vmm/boot/flat_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

class FlatLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { memory_ = std::move(GuestMemory::create_pc(16ULL << 20).value()); }
  GuestMemory memory_;
};

TEST_F(FlatLoaderTest, LoadsAt0x10000AndStartsAt1000_0000) {
  Bytes image = test::pattern(0x1234, 4);
  auto r = load_flat(image, memory_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x10000, image.size()), image);
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kReal16);
  EXPECT_EQ(r->cs_selector, 0x1000u);
  EXPECT_EQ(r->cs_base, 0x10000u);
  EXPECT_EQ(r->data_selector, 0x1000u);
  EXPECT_EQ(r->rip, 0u);
  EXPECT_EQ(r->rsp, 0x8000u);
  EXPECT_EQ(r->rflags, 0x2u);
  EXPECT_EQ(r->rax, 0u);
}

TEST_F(FlatLoaderTest, TouchesNothingOutsideTheImage) {
  test::fill_guest(memory_, 0xF000, 0x3000, 0xCC);
  ASSERT_TRUE(load_flat(Bytes{0xF4}, memory_));  // hlt
  EXPECT_EQ(test::guest_bytes(memory_, 0xF000, 0x1000), Bytes(0x1000, 0xCC));
  EXPECT_EQ(test::guest_bytes(memory_, 0x10001, 0x100), Bytes(0x100, 0xCC));
}

TEST_F(FlatLoaderTest, LargestImageEndsAt0xA0000) {
  Bytes image = test::pattern(0x90000, 4);
  ASSERT_TRUE(load_flat(image, memory_));
  EXPECT_EQ(test::guest_bytes(memory_, 0x10000, image.size()), image);
}

TEST_F(FlatLoaderTest, OversizeImage) {
  auto r = load_flat(Bytes(0x90001, 1), memory_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "flat image is 589825 bytes; loaded at 0x10000 it must end below 0xa0000, so at most 589824 bytes (576 KiB)");
}

TEST_F(FlatLoaderTest, EmptyImage) {
  auto r = load_flat({}, memory_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "flat image is empty");
}

TEST(FlatLoader, NeedsRamAt0x10000) {
  GuestMemory memory;
  ASSERT_TRUE(memory.add_region("high", 0x100000, 0x100000, false));
  auto r = load_flat(Bytes{0xF4}, memory);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("guest RAM does not cover [0x10000, 0x10001)"));
}

}  // namespace
}  // namespace kvpc
