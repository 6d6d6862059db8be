// kvpc64 direct boot: header checks, placement, boot info, command line, e820 and the
// entry state of docs/boot-protocol.md. The tables themselves: long_mode_tables_test.cc.
#include "vmm/boot/kvpc64_loader.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/kvpc64_header.h"

namespace kvpc {
namespace {

using test::Bytes;
using test::guest_u32;
using test::guest_u64;
using test::Kvpc64Offsets;
using test::put64;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

class Kvpc64LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { memory_ = std::move(GuestMemory::create_pc(64 * kMiB).value()); }
  Result<CpuEntryState> load(const Bytes& image, std::string_view cmdline = "", uint32_t cpus = 1) {
    return load_kvpc64(image, cmdline, cpus, memory_);
  }
  std::string error_of(const Bytes& image) {
    auto r = load(image);
    return r ? std::string("<ok>") : r.error().message;
  }
  GuestMemory memory_;
};

Bytes good_image() { return test::build_kvpc64(0x200000, test::pattern(0x3000, 9), 0x10000 - 0x3030); }

TEST_F(Kvpc64LoaderTest, ImageIsCopiedAndBssZeroed) {
  test::fill_guest(memory_, 0x200000, 0x11000, 0xCC);
  Bytes image = good_image();
  auto r = load(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x200000, image.size()), image);
  EXPECT_EQ(test::guest_bytes(memory_, 0x200000 + image.size(), 0x10000 - image.size()),
            Bytes(0x10000 - image.size(), 0));
  EXPECT_EQ(test::guest_bytes(memory_, 0x210000, 0x1000), Bytes(0x1000, 0xCC));
}

TEST_F(Kvpc64LoaderTest, EntryStateMatchesTheProtocol) {
  auto r = load(good_image(), "hello", 4);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kLong64);
  EXPECT_EQ(r->rip, 0x200030u);
  EXPECT_EQ(r->rsp, 0x210000u);  // stack_top 0: end of the image
  EXPECT_EQ(r->rdi, 0x9400u);
  EXPECT_EQ(r->rflags, 0x2u);
  for (uint64_t reg : {r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rbp}) EXPECT_EQ(reg, 0u);
  EXPECT_EQ(r->cr3, 0x1000u);
  EXPECT_EQ(r->gdt_base, 0x7000u);
  EXPECT_EQ(r->gdt_limit, 0x3Fu);
  EXPECT_EQ(r->idt_limit, 0u);
  EXPECT_EQ(r->tss_base, 0x7100u);
  EXPECT_EQ(r->tss_limit, 0x2068u);
  EXPECT_EQ(r->code_selector, 0x08u);
  EXPECT_EQ(r->data_selector64, 0x10u);
  EXPECT_EQ(r->tss_selector, 0x30u);
  EXPECT_EQ(guest_u64(memory_, 0x7104), 0x210000u) << "TSS RSP0 = stack_top";
  EXPECT_EQ(guest_u64(memory_, 0x1000), 0x2007u) << "page tables built";
}

TEST_F(Kvpc64LoaderTest, BootInfo) {
  ASSERT_TRUE(load(good_image(), "console=com1 mode=test", 3));
  EXPECT_EQ(test::guest_bytes(memory_, 0x9400, 8), Bytes({'K', 'V', 'P', 'C', 'I', 'N', 'F', 'O'}));
  EXPECT_EQ(guest_u64(memory_, 0x9408), 64 * kMiB);
  EXPECT_EQ(guest_u64(memory_, 0x9410), 0x9800u);
  EXPECT_EQ(guest_u32(memory_, 0x9418), 22u);
  EXPECT_EQ(guest_u32(memory_, 0x941C), 3u);
  EXPECT_EQ(guest_u64(memory_, 0x9420), 0xA000u);
  EXPECT_EQ(guest_u32(memory_, 0x9428), 3u);
  EXPECT_EQ(guest_u32(memory_, 0x942C), 0u);
  EXPECT_EQ(test::guest_c_string(memory_, 0x9800), "console=com1 mode=test");
}

TEST_F(Kvpc64LoaderTest, E820MapEqualsGuestMemory) {
  for (uint64_t ram : {64 * kMiB, 4 * kGiB}) {
    auto memory = std::move(GuestMemory::create_pc(ram).value());
    auto r = load_kvpc64(good_image(), "", 1, memory);
    ASSERT_TRUE(r) << r.error().message;
    auto e820 = memory.e820();
    EXPECT_EQ(guest_u64(memory, 0x9408), ram);
    ASSERT_EQ(guest_u32(memory, 0x9428), e820.size());
    for (size_t i = 0; i < e820.size(); ++i) {
      uint64_t entry = 0xA000 + i * 24;
      EXPECT_EQ(guest_u64(memory, entry), e820[i].addr);
      EXPECT_EQ(guest_u64(memory, entry + 8), e820[i].size);
      EXPECT_EQ(guest_u32(memory, entry + 16), e820[i].type);
      EXPECT_EQ(guest_u32(memory, entry + 20), 0u);
    }
  }
}

TEST_F(Kvpc64LoaderTest, ExplicitStackTop) {
  Bytes image = good_image();
  put64(image, Kvpc64Offsets::kStackTop, 0x9F000);
  auto r = load(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rsp, 0x9F000u);
  EXPECT_EQ(guest_u64(memory_, 0x7104), 0x9F000u);
}

TEST_F(Kvpc64LoaderTest, DefaultStackTopIsRoundedDownTo16) {
  Bytes image = test::build_kvpc64(0x200000, test::pattern(0x100, 9), 0x1009);
  auto r = load(image);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rsp, (0x200000 + 48 + 0x100 + 0x1009) & ~uint64_t{15});
}

TEST_F(Kvpc64LoaderTest, CommandLineLimits) {
  std::string longest(2047, 'c');
  ASSERT_TRUE(load(good_image(), longest));
  EXPECT_EQ(test::guest_c_string(memory_, 0x9800), longest);
  EXPECT_EQ(guest_u32(memory_, 0x9418), 2047u);
  auto too_long = load(good_image(), longest + "c");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message, "kvpc64 command line is 2048 bytes; the protocol allows at most 2047");
  auto nul = load(good_image(), std::string_view("ab\0", 3));
  ASSERT_FALSE(nul);
  EXPECT_THAT(nul.error().message, HasSubstr("NUL byte at offset 2"));
}

TEST_F(Kvpc64LoaderTest, StaleCommandLineBytesAreCleared) {
  ASSERT_TRUE(load(good_image(), std::string(100, 'x')));
  ASSERT_TRUE(load(good_image(), "short"));
  EXPECT_EQ(test::guest_c_string(memory_, 0x9800), "short");
  EXPECT_EQ(test::guest_bytes(memory_, 0x9805, 200), Bytes(200, 0));
}

TEST_F(Kvpc64LoaderTest, TruncatedHeaderAtEveryLength) {
  Bytes full = good_image();
  for (size_t size = 0; size < Kvpc64Offsets::kHeaderBytes; ++size) {
    Bytes cut(full.begin(), full.begin() + static_cast<long>(size));
    EXPECT_EQ(error_of(cut), fmt::format("kvpc64 image is {} bytes, shorter than its 48-byte header", size));
  }
  // Header only: memory_size now exceeds the file, but there is no code to enter.
  Bytes header_only(full.begin(), full.begin() + 48);
  EXPECT_THAT(error_of(header_only), HasSubstr("entry_offset 0x30 is outside the image's code"));
}

TEST_F(Kvpc64LoaderTest, TruncatedCodeStillLoadsAsLongAsTheEntryIsInside) {
  // memory_size covers the missing bytes as zero fill; the entry (offset 48) is present.
  Bytes cut = good_image();
  cut.resize(0x100);
  auto r = load(cut);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x200100, 0x10), Bytes(0x10, 0));
}

struct FieldCase {
  uint64_t offset;
  uint64_t value;
  int width;
  std::string expected;
};

TEST_F(Kvpc64LoaderTest, HeaderFieldErrors) {
  std::vector<FieldCase> cases = {
      {Kvpc64Offsets::kMagic, 0x4D49343643505658ULL, 8, "kvpc64 header: magic at offset 0 is not 'KVPC64IM'"},
      {Kvpc64Offsets::kVersion, 2, 4, "kvpc64 header: version 2 is not supported (kvpc reads version 1)"},
      {Kvpc64Offsets::kVersion, 0, 4, "version 0 is not supported"},
      {Kvpc64Offsets::kHeaderSize, 64, 4, "kvpc64 header: header_size 64 is not 48"},
      {Kvpc64Offsets::kLoadAddress, 0x200800, 8, "load_address 0x200800 is not 4 KiB aligned"},
      {Kvpc64Offsets::kLoadAddress, 0xFF000, 8, "load_address 0xff000 is below 0x100000"},
      {Kvpc64Offsets::kLoadAddress, 0, 8, "load_address 0x0 is below 0x100000"},
      {Kvpc64Offsets::kMemorySize, 0x302F, 8, "memory_size 0x302f is smaller than the file (0x3030 bytes)"},
      {Kvpc64Offsets::kMemorySize, ~0ULL - 0x1000, 8, "load_address 0x200000 + memory_size 0xffffffffffffefff wraps"},
      {Kvpc64Offsets::kMemorySize, 0x4000000, 8,
       "kvpc64 image [0x200000, 0x4200000) (load_address + memory_size) does not fit in guest RAM (RAM there ends at "
       "0x4000000)"},
      {Kvpc64Offsets::kMemorySize, 0xC0000000, 8, "extends past 0xc0000000, where the PCI hole starts"},
      {Kvpc64Offsets::kLoadAddress, 0x8000000, 8, "(no RAM at load_address)"},
      {Kvpc64Offsets::kEntryOffset, 0, 8, "entry_offset 0x0 is outside the image's code: it must be in [0x30, 0x3030)"},
      {Kvpc64Offsets::kEntryOffset, 47, 8, "entry_offset 0x2f is outside"},
      {Kvpc64Offsets::kEntryOffset, 0x3030, 8, "entry_offset 0x3030 is outside"},
      {Kvpc64Offsets::kEntryOffset, ~0ULL, 8, "entry_offset 0xffffffffffffffff is outside"},
      {Kvpc64Offsets::kStackTop, 0x9F008, 8, "stack_top 0x9f008 is not 16-byte aligned"},
      {Kvpc64Offsets::kStackTop, 0x9000, 8, "stack_top 0x9000 is not inside guest RAM between the boot area"},
      {Kvpc64Offsets::kStackTop, 0x10000, 8, "stack_top 0x10000 is not inside"},
      {Kvpc64Offsets::kStackTop, 0x4000010, 8, "stack_top 0x4000010 is not inside"},
      {Kvpc64Offsets::kStackTop, 0xFFFFFFFFFFFFFFF0ULL, 8, "stack_top 0xfffffffffffffff0 is not inside"},
  };
  for (const auto& c : cases) {
    Bytes image = good_image();
    if (c.width == 4) test::put32(image, c.offset, static_cast<uint32_t>(c.value));
    if (c.width == 8) put64(image, c.offset, c.value);
    EXPECT_THAT(error_of(image), HasSubstr(c.expected)) << c.expected;
  }
}

TEST_F(Kvpc64LoaderTest, StackTopMustBeBelow4GiB) {
  auto memory = std::move(GuestMemory::create_pc(8 * kGiB).value());
  Bytes image = good_image();
  put64(image, Kvpc64Offsets::kStackTop, 4 * kGiB + 0x1000);  // RAM, but not mapped at entry
  auto r = load_kvpc64(image, "", 1, memory);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("between the boot area (0x10000) and 4 GiB"));
  put64(image, Kvpc64Offsets::kStackTop, 3 * kGiB);  // the very top of low RAM is fine
  EXPECT_TRUE(load_kvpc64(image, "", 1, memory));
}

TEST_F(Kvpc64LoaderTest, ImageEndingExactlyAtThePciHole) {
  auto memory = std::move(GuestMemory::create_pc(4 * kGiB).value());
  Bytes image = test::build_kvpc64(0xBFFFF000, test::pattern(0x100, 3), 0x1000 - 0x130);
  auto r = load_kvpc64(image, "", 1, memory);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rsp, 0xC0000000u);
  put64(image, Kvpc64Offsets::kMemorySize, 0x1001);
  EXPECT_THAT(load_kvpc64(image, "", 1, memory).error().message, HasSubstr("where the PCI hole starts"));
}

TEST_F(Kvpc64LoaderTest, ZeroCpus) {
  auto r = load(good_image(), "", 0);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("at least one vCPU"));
}

TEST_F(Kvpc64LoaderTest, AFailedLoadWritesNothing) {
  test::fill_guest(memory_, 0, 0x10000, 0xAB);
  test::fill_guest(memory_, 0x200000, 0x1000, 0xAB);
  Bytes image = good_image();
  put64(image, Kvpc64Offsets::kStackTop, 0x9F008);
  ASSERT_FALSE(load(image));
  ASSERT_FALSE(load(good_image(), std::string(3000, 'x')));
  EXPECT_EQ(test::guest_bytes(memory_, 0, 0x10000), Bytes(0x10000, 0xAB));
  EXPECT_EQ(test::guest_bytes(memory_, 0x200000, 0x1000), Bytes(0x1000, 0xAB));
}

TEST(Kvpc64Header, ParsesFields) {
  Bytes image = test::build_kvpc64(0x100000, test::pattern(0x40, 1), 0x100, 0x180000, 0x50);
  auto h = parse_kvpc64_header(image);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->version, 1u);
  EXPECT_EQ(h->header_size, 48u);
  EXPECT_EQ(h->load_address, 0x100000u);
  EXPECT_EQ(h->entry_offset, 0x50u);
  EXPECT_EQ(h->memory_size, 0x30u + 0x40 + 0x100);
  EXPECT_EQ(h->stack_top, 0x180000u);
  EXPECT_TRUE(has_kvpc64_magic(image));
  EXPECT_FALSE(has_kvpc64_magic(Bytes{'K', 'V', 'P', 'C'}));
}

TEST(Kvpc64Loader, NeedsLowRamForTheBootArea) {
  GuestMemory memory;
  ASSERT_TRUE(memory.add_region("high", 0x100000, 0x1000000, false));
  auto r = load_kvpc64(good_image(), "", 1, memory);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("guest RAM does not cover the kvpc64 boot area [0x9400, 0x10000)"));
}

}  // namespace
}  // namespace kvpc
