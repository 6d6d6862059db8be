#include "vmm/boot/multiboot_header.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

std::string error_of(const Bytes& image) {
  auto r = parse_multiboot_header(image);
  return r ? std::string("<ok>") : r.error().message;
}

TEST(MultibootHeader, ParsesMinimalHeader) {
  Bytes image = test::pattern(0x1000, 5);
  test::put_multiboot_header(image, 0x20, test::kMbPageAlign | test::kMbMemInfo);
  auto r = parse_multiboot_header(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->file_offset, 0x20u);
  EXPECT_EQ(r->flags, 3u);
  EXPECT_FALSE(r->has_address_fields());
  EXPECT_EQ(r->size(), 12u);
}

TEST(MultibootHeader, ParsesAddressFields) {
  Bytes image = test::pattern(0x1000, 5);
  test::put_multiboot_header(image, 0x20, test::kMbAddress, {0x100020, 0x100000, 0x101000, 0x102000, 0x100040});
  auto r = parse_multiboot_header(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->has_address_fields());
  EXPECT_EQ(r->size(), 32u);
  EXPECT_EQ(r->header_addr, 0x100020u);
  EXPECT_EQ(r->load_addr, 0x100000u);
  EXPECT_EQ(r->load_end_addr, 0x101000u);
  EXPECT_EQ(r->bss_end_addr, 0x102000u);
  EXPECT_EQ(r->entry_addr, 0x100040u);
}

TEST(MultibootHeader, VideoModeIsAcceptedAndIgnored) {
  Bytes image = test::pattern(0x1000, 5);
  test::put_multiboot_header(image, 0x20, test::kMbVideo | test::kMbPageAlign);
  auto r = parse_multiboot_header(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), 48u);
}

TEST(MultibootHeader, OptionalHighFlagsAreIgnored) {
  Bytes image = test::pattern(0x1000, 5);
  test::put_multiboot_header(image, 0x20, 0xFFFE0000u | test::kMbPageAlign);
  EXPECT_EQ(error_of(image), "<ok>");
}

TEST(MultibootHeader, EveryUnknownRequiredBitIsNamed) {
  for (int bit = 3; bit < 16; ++bit) {
    Bytes image = test::pattern(0x1000, 5);
    test::put_multiboot_header(image, 0x20, (1u << bit) | test::kMbPageAlign);
    EXPECT_THAT(error_of(image), HasSubstr(fmt::format("require feature bit {},", bit))) << bit;
  }
}

TEST(MultibootHeader, BadChecksum) {
  Bytes image = test::pattern(0x1000, 5);
  test::put_multiboot_header(image, 0x20, 3, {}, 0xDEADBEEF);
  std::string error = error_of(image);
  EXPECT_THAT(error, HasSubstr("Multiboot header at offset 0x20: bad checksum 0xdeadbeef"));
  EXPECT_THAT(error, HasSubstr(fmt::format("expected {:#010x}", 0u - 0x1BADB002u - 3u)));
}

TEST(MultibootHeader, Missing) {
  EXPECT_THAT(error_of(test::pattern(0x3000, 5)), HasSubstr("no Multiboot header"));
  EXPECT_THAT(error_of(Bytes{}), HasSubstr("no Multiboot header"));
  // Beyond the 8192-byte window does not count.
  Bytes late = test::pattern(0x3000, 5);
  test::put_multiboot_header(late, 8192, 3);
  EXPECT_THAT(error_of(late), HasSubstr("no Multiboot header"));
}

TEST(MultibootHeader, TruncatedAtEveryLength) {
  Bytes image = test::pattern(0x100, 5);
  test::put_multiboot_header(image, 0x40, test::kMbAddress | test::kMbVideo, {1, 1, 1, 1, 1});
  for (size_t size = 0x40; size < 0x40 + 48; ++size) {
    Bytes cut(image.begin(), image.begin() + static_cast<long>(size));
    std::string error = error_of(cut);
    if (size < 0x40 + 12) {
      EXPECT_THAT(error, HasSubstr("no Multiboot header")) << size;
    } else {
      EXPECT_THAT(error, HasSubstr("Multiboot header at offset 0x40 is truncated")) << size;
    }
  }
}

TEST(MultibootHeader, AddressFieldsMustLieInTheWindow) {
  Bytes image = test::pattern(0x3000, 5);
  test::put_multiboot_header(image, 8192 - 12, test::kMbAddress, {1, 1, 1, 1, 1});
  EXPECT_THAT(error_of(image), HasSubstr("extends past the first 8192 bytes"));
}

}  // namespace
}  // namespace kvpc
