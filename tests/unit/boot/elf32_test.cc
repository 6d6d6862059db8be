#include "vmm/boot/elf32.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using test::ElfLayout;
using ::testing::HasSubstr;

test::BuiltElf two_segment_elf() {
  return test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x300, 1)),
                                    test::load_segment(0x200000, test::pattern(0x40, 2), 0x1000)},
                                   0x100010);
}

std::string error_of(const Bytes& image) {
  auto r = parse_elf32_executable(image);
  return r ? std::string("<ok>") : r.error().message;
}

TEST(Elf32, ParsesSegmentsAndEntry) {
  auto elf = two_segment_elf();
  auto r = parse_elf32_executable(elf.bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->entry, 0x100010u);
  ASSERT_EQ(r->segments.size(), 2u);
  EXPECT_EQ(r->segments[0].index, 0u);
  EXPECT_EQ(r->segments[0].paddr, 0x100000u);
  EXPECT_EQ(r->segments[0].offset, elf.segment_offsets[0]);
  EXPECT_EQ(r->segments[0].filesz, 0x300u);
  EXPECT_EQ(r->segments[0].memsz, 0x300u);
  EXPECT_EQ(r->segments[1].paddr, 0x200000u);
  EXPECT_EQ(r->segments[1].filesz, 0x40u);
  EXPECT_EQ(r->segments[1].memsz, 0x1000u);
}

TEST(Elf32, SkipsNonLoadAndEmptySegments) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x300000, test::pattern(8, 1), std::nullopt, std::nullopt, 4),
                                        test::load_segment(0x100000, {}, 0),
                                        test::load_segment(0x100000, test::pattern(0x10, 1))},
                                       0x100000);
  auto r = parse_elf32_executable(elf.bytes);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->segments.size(), 1u);
  EXPECT_EQ(r->segments[0].index, 2u);
}

TEST(Elf32, IsElf) {
  EXPECT_TRUE(is_elf(two_segment_elf().bytes));
  EXPECT_FALSE(is_elf(Bytes{0x7f, 'E', 'L'}));
  EXPECT_FALSE(is_elf(Bytes{}));
}

TEST(Elf32, TruncatedHeaderAtEveryLength) {
  Bytes full = two_segment_elf().bytes;
  for (size_t size = 4; size < ElfLayout::kHeaderBytes; ++size) {
    Bytes cut(full.begin(), full.begin() + static_cast<long>(size));
    EXPECT_THAT(error_of(cut), HasSubstr("ELF header truncated")) << size;
  }
  EXPECT_THAT(error_of(Bytes(full.begin(), full.begin() + 3)), HasSubstr("not an ELF file"));
}

TEST(Elf32, TruncatedProgramHeaderTable) {
  auto elf = two_segment_elf();
  uint64_t table_end = elf.phdr_offset(2);
  for (uint64_t size = ElfLayout::kHeaderBytes; size < table_end; ++size) {
    Bytes cut(elf.bytes.begin(), elf.bytes.begin() + static_cast<long>(size));
    EXPECT_THAT(error_of(cut), HasSubstr("program header table truncated")) << size;
  }
}

TEST(Elf32, TruncatedSegmentData) {
  auto elf = two_segment_elf();
  Bytes cut(elf.bytes.begin(), elf.bytes.end() - 1);
  EXPECT_THAT(error_of(cut), HasSubstr("ELF program header 1: p_offset"));
  EXPECT_THAT(error_of(cut), HasSubstr("passes the end of the file"));
}

TEST(Elf32, ProgramHeaderTableOffsetOverflow) {
  auto elf = two_segment_elf();
  test::put32(elf.bytes, 28, 0xFFFFFFF0);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("program header table truncated"));
}

TEST(Elf32, IdentificationAndTypeChecks) {
  auto with = [](uint64_t offset, uint32_t value, int width) {
    Bytes b = two_segment_elf().bytes;
    if (width == 1) test::put8(b, offset, static_cast<uint8_t>(value));
    if (width == 2) test::put16(b, offset, static_cast<uint16_t>(value));
    if (width == 4) test::put32(b, offset, value);
    return error_of(b);
  };
  EXPECT_THAT(with(4, 2, 1), HasSubstr("ELF class 2 (64-bit)"));
  EXPECT_THAT(with(4, 0, 1), HasSubstr("EI_CLASS 0"));
  EXPECT_THAT(with(5, 2, 1), HasSubstr("EI_DATA 2"));
  EXPECT_THAT(with(6, 0, 1), HasSubstr("EI_VERSION 0"));
  EXPECT_THAT(with(16, 3, 2), HasSubstr("e_type 3 is not 2 (ET_EXEC)"));
  EXPECT_THAT(with(18, 62, 2), HasSubstr("e_machine 62 is not 3 (EM_386)"));
  EXPECT_THAT(with(20, 2, 4), HasSubstr("e_version 2"));
  EXPECT_THAT(with(44, 0, 2), HasSubstr("e_phnum is 0"));
  EXPECT_THAT(with(44, 0xFFFF, 2), HasSubstr("PN_XNUM"));
  EXPECT_THAT(with(42, 16, 2), HasSubstr("e_phentsize 16"));
}

TEST(Elf32, LargerProgramHeaderEntriesAreStepped) {
  // e_phentsize may exceed 32; entries are then that far apart.
  Bytes b;
  auto elf = test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x10, 1))}, 0x100000);
  b = elf.bytes;
  test::put16(b, 42, 64);
  test::put16(b, 44, 1);
  auto r = parse_elf32_executable(b);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->segments[0].paddr, 0x100000u);
}

TEST(Elf32, SegmentChecks) {
  auto with = [](uint64_t field, uint32_t value) {
    auto elf = two_segment_elf();
    test::put32(elf.bytes, elf.phdr_offset(1) + field, value);
    return error_of(elf.bytes);
  };
  EXPECT_THAT(with(16, 0x2000), HasSubstr("ELF program header 1: p_filesz 0x2000 is larger than p_memsz 0x1000"));
  EXPECT_THAT(with(4, 0xFFFFFFF0), HasSubstr("ELF program header 1: p_offset 0xfffffff0"));
  EXPECT_THAT(with(12, 0xFFFFF800), HasSubstr("ELF program header 1: p_paddr 0xfffff800 + p_memsz 0x1000 wraps"));
  EXPECT_THAT(with(20, 0xFFFFFFFF), HasSubstr("wraps past 4 GiB"));
}

TEST(Elf32, NoLoadableSegment) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x100000, {}, 0)}, 0x100000);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("no PT_LOAD segment"));
}

}  // namespace
}  // namespace kvpc
