// The bzImage setup header: every field kvpc relies on is checked, and a rejection names
// the field, its offset and the value found.
#include "vmm/boot/linux_setup_header.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using test::BzImageSpec;
using ::testing::HasSubstr;

TEST(LinuxSetupHeader, ReadsTheFieldsOfAGoodImage) {
  auto h = parse_linux_setup_header(test::build_bzimage());
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->version, 0x020F);
  EXPECT_EQ(h->setup_sects, 4u);
  EXPECT_EQ(h->kernel_offset, 5u * 512);
  EXPECT_EQ(h->kernel_size, 0x3000u);
  EXPECT_EQ(h->kernel_alignment, 0x200000u);
  EXPECT_TRUE(h->relocatable);
  EXPECT_EQ(h->min_alignment_log2, 21);
  EXPECT_EQ(h->initrd_addr_max, 0x7FFFFFFFu);
  EXPECT_EQ(h->cmdline_size, 0x7FFu);
  EXPECT_EQ(h->pref_address, 0x1000000u);
  EXPECT_EQ(h->init_size, 0x400000u);
  EXPECT_TRUE(looks_like_linux_bzimage(test::build_bzimage()));
}

TEST(LinuxSetupHeader, ZeroSetupSectsMeansFour) {
  BzImageSpec spec;
  spec.setup_sects = 4;
  Bytes image = test::build_bzimage(spec);
  image[0x1F1] = 0;
  auto h = parse_linux_setup_header(image);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->kernel_offset, 5u * 512);
}

struct BadHeader {
  const char* name;
  void (*mutate)(Bytes&);
  const char* message;
};

class LinuxSetupHeaderRejects : public ::testing::TestWithParam<BadHeader> {};

TEST_P(LinuxSetupHeaderRejects, NamesTheField) {
  Bytes image = test::build_bzimage();
  GetParam().mutate(image);
  auto h = parse_linux_setup_header(image);
  ASSERT_FALSE(h);
  EXPECT_THAT(h.error().message, HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, LinuxSetupHeaderRejects,
    ::testing::Values(
        BadHeader{"short", [](Bytes& b) { b.resize(0x200); }, "too short to hold a setup header"},
        BadHeader{"boot_flag", [](Bytes& b) { test::put16(b, 0x1FE, 0x1234); }, "boot_flag (offset 0x1fe) is 0x1234"},
        BadHeader{"magic", [](Bytes& b) { test::put_text(b, 0x202, "HdrX"); }, "field header (offset 0x202)"},
        BadHeader{"old_protocol", [](Bytes& b) { test::put16(b, 0x206, 0x020B); }, "version (offset 0x206) is 2.11"},
        BadHeader{"zimage", [](Bytes& b) { test::put8(b, 0x211, 0x80); }, "loadflags (offset 0x211) is 0x80: LOADED_HIGH"},
        BadHeader{"32bit_only", [](Bytes& b) { test::put16(b, 0x236, 0x0002); }, "xloadflags (offset 0x236) is 0x0002"},
        BadHeader{"setup_past_end", [](Bytes& b) { test::put8(b, 0x1F1, 200); }, "setup_sects (offset 0x1f1) is 200"},
        BadHeader{"truncated", [](Bytes& b) { b.resize(b.size() - 0x100); }, "syssize (offset 0x1f4)"},
        BadHeader{"alignment", [](Bytes& b) { test::put32(b, 0x230, 0x3000); }, "kernel_alignment (offset 0x230) is 0x3000: not a power"},
        BadHeader{"tiny_alignment", [](Bytes& b) { test::put32(b, 0x230, 0x200); }, "needs at least page alignment"},
        BadHeader{"min_alignment", [](Bytes& b) { test::put8(b, 0x235, 40); }, "min_alignment (offset 0x235) is 40"},
        BadHeader{"no_init_size", [](Bytes& b) { test::put32(b, 0x260, 0); }, "init_size (offset 0x260) is 0x0"},
        BadHeader{"small_init_size", [](Bytes& b) { test::put32(b, 0x260, 0x1000); }, "init_size (offset 0x260) is 0x1000"},
        BadHeader{"fixed_misaligned", [](Bytes& b) { test::put8(b, 0x234, 0); test::put64(b, 0x258, 0x1001000); },
                  "pref_address (offset 0x258) is 0x1001000"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace kvpc
