// load_multiboot() with the a.out kludge (header flag bit 16): the header's address fields
// say where the file goes.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/multiboot_loader.h"

namespace kvpc {
namespace {

using test::AoutFieldOffsets;
using test::Bytes;
using ::testing::HasSubstr;

class MultibootAoutTest : public ::testing::Test {
 protected:
  void SetUp() override { memory_ = std::move(GuestMemory::create_pc(64ULL << 20).value()); }
  Result<CpuEntryState> load(const Bytes& image) { return load_multiboot(image, "", {}, memory_); }
  std::string error_of(const Bytes& image) {
    auto r = load(image);
    return r ? std::string("<ok>") : r.error().message;
  }
  GuestMemory memory_;
};

TEST_F(MultibootAoutTest, LoadsTextAndZeroesBss) {
  test::fill_guest(memory_, 0x100000, 0x4000, 0xCC);
  Bytes image = test::build_aout_kludge({});
  auto r = load(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x100000, 0x2000), image);
  EXPECT_EQ(test::guest_bytes(memory_, 0x102000, 0x1000), Bytes(0x1000, 0));
  EXPECT_EQ(test::guest_bytes(memory_, 0x103000, 0x1000), Bytes(0x1000, 0xCC));
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kProtected32);
  EXPECT_EQ(r->rip, 0x100080u);
  EXPECT_EQ(r->rax, 0x2BADB002u);
  EXPECT_EQ(r->rbx, 0x8000u);
}

TEST_F(MultibootAoutTest, LoadEndZeroMeansTheWholeFile) {
  test::AoutSpec spec;
  spec.load_end_zero = true;
  spec.bss_bytes = 0;
  test::fill_guest(memory_, 0x100000, 0x3000, 0xCC);
  Bytes image = build_aout_kludge(spec);
  ASSERT_EQ(error_of(image), "<ok>");
  EXPECT_EQ(test::guest_bytes(memory_, 0x100000, 0x2000), image);
  // bss_end_addr 0: no bss, nothing zeroed past the file.
  EXPECT_EQ(test::guest_bytes(memory_, 0x102000, 0x1000), Bytes(0x1000, 0xCC));
}

TEST_F(MultibootAoutTest, LoadingStartsWhereHeaderAddrSays) {
  // Header at file offset 0x1040, 0x40 bytes into the load: the first 0x1000 bytes of the
  // file are not loaded.
  test::AoutSpec spec;
  spec.text = test::pattern(0x3000, 0x55);
  spec.header_offset = 0x1040;
  Bytes image = build_aout_kludge(spec);
  test::set_aout_field(image, 0x1040, AoutFieldOffsets::kHeaderAddr, 0x100040);
  test::set_aout_field(image, 0x1040, AoutFieldOffsets::kLoadEndAddr, 0x102000);
  test::set_aout_field(image, 0x1040, AoutFieldOffsets::kBssEndAddr, 0x102000);
  auto r = load(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x100000, 0x2000), Bytes(image.begin() + 0x1000, image.end()));
}

TEST_F(MultibootAoutTest, HeaderFieldErrors) {
  struct Case {
    uint64_t field;
    uint32_t value;
    std::string expected;
  };
  std::vector<Case> cases = {
      {AoutFieldOffsets::kLoadAddr, 0x100041, "load_addr 0x100041 is above header_addr 0x100040"},
      {AoutFieldOffsets::kHeaderAddr, 0x100100,
       "header_addr 0x100100 - load_addr 0x100000 = 0x100 is more than the header's file offset 0x40"},
      {AoutFieldOffsets::kLoadEndAddr, 0xFFFFF, "load_end_addr 0xfffff is below load_addr 0x100000"},
      {AoutFieldOffsets::kLoadEndAddr, 0x102001, "asks for 0x2001 bytes from file offset 0x0, but the file has only"},
      {AoutFieldOffsets::kLoadEndAddr, 0x100050, "header_addr 0x100040 does not lie inside the loaded range"},
      {AoutFieldOffsets::kBssEndAddr, 0x101FFF, "bss_end_addr 0x101fff is below the end of the loaded data 0x102000"},
      {AoutFieldOffsets::kEntryAddr, 0x102000, "entry_addr 0x102000 is outside the loaded range [0x100000, 0x102000)"},
      {AoutFieldOffsets::kEntryAddr, 0xFFFFF, "entry_addr 0xfffff is outside"},
  };
  for (const auto& c : cases) {
    Bytes image = test::build_aout_kludge({});
    test::set_aout_field(image, 0x40, c.field, c.value);
    EXPECT_THAT(error_of(image), HasSubstr(c.expected)) << c.expected;
  }
}

TEST_F(MultibootAoutTest, ErrorsNameTheHeaderOffset) {
  Bytes image = test::build_aout_kludge({});
  test::set_aout_field(image, 0x40, AoutFieldOffsets::kEntryAddr, 0);
  EXPECT_THAT(error_of(image), HasSubstr("Multiboot header at offset 0x40: entry_addr"));
}

TEST_F(MultibootAoutTest, WrappingPast4GiB) {
  test::AoutSpec spec;
  spec.load_addr = 0xFFFFF000;
  spec.load_end_zero = true;
  spec.bss_bytes = 0;
  EXPECT_THAT(error_of(build_aout_kludge(spec)), HasSubstr("load_addr 0xfffff000 + 0x2000 bytes of file wraps past 4 GiB"));
}

TEST_F(MultibootAoutTest, OutsideGuestRam) {
  test::AoutSpec spec;
  spec.load_addr = 0x10000000;
  EXPECT_THAT(error_of(build_aout_kludge(spec)), HasSubstr("a.out kludge load range: [0x10000000, 0x10003000)"));
  EXPECT_THAT(error_of(build_aout_kludge(spec)), HasSubstr("is not inside guest RAM"));
}

TEST_F(MultibootAoutTest, HugeBss) {
  Bytes image = test::build_aout_kludge({});
  test::set_aout_field(image, 0x40, AoutFieldOffsets::kBssEndAddr, 0xFFFFFFFF);
  EXPECT_THAT(error_of(image), HasSubstr("is not inside guest RAM"));
}

TEST_F(MultibootAoutTest, OverlappingTheInfoArea) {
  test::AoutSpec spec;
  spec.load_addr = 0x7000;
  EXPECT_THAT(error_of(build_aout_kludge(spec)), HasSubstr("overlaps the Multiboot info area"));
}

TEST_F(MultibootAoutTest, TruncatedAtEveryLength) {
  Bytes full = test::build_aout_kludge({});
  for (size_t size = 0; size < full.size(); ++size) {
    Bytes cut(full.begin(), full.begin() + static_cast<long>(size));
    auto r = load(cut);
    ASSERT_FALSE(r) << size;
    std::string expected = size < 0x40 + 12   ? "no Multiboot header"
                           : size < 0x40 + 32 ? "is truncated"
                                              : "but the file has only";
    EXPECT_THAT(r.error().message, HasSubstr(expected)) << size;
  }
}

}  // namespace
}  // namespace kvpc
