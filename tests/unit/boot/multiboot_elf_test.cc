// load_multiboot() with ELF32 kernels: where bytes land, the entry state, and every
// placement check. The info structure's contents are in multiboot_info_test.cc.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/multiboot_info.h"
#include "vmm/boot/multiboot_loader.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

constexpr uint64_t k64MiB = 64ULL << 20;

class MultibootElfTest : public ::testing::Test {
 protected:
  void SetUp() override { memory_ = std::move(GuestMemory::create_pc(k64MiB).value()); }

  Result<CpuEntryState> load(const Bytes& image, std::string_view cmdline = "",
                             const std::vector<MultibootModule>& modules = {}) {
    return load_multiboot(image, cmdline, modules, memory_);
  }
  std::string error_of(const Bytes& image) {
    auto r = load(image);
    return r ? std::string("<ok>") : r.error().message;
  }

  GuestMemory memory_;
};

// Text at 1 MiB, data + bss at 2 MiB.
test::BuiltElf two_segment_kernel() {
  return test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x1800, 1)),
                                    test::load_segment(0x200000, test::pattern(0x123, 2), 0x3000)},
                                   0x100010);
}

TEST_F(MultibootElfTest, SegmentsLandAtTheirPhysicalAddressesAndBssIsZeroed) {
  test::fill_guest(memory_, 0x200000, 0x4000, 0xCC);  // stale bytes where the bss goes
  auto r = load(two_segment_kernel().bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x100000, 0x1800), test::pattern(0x1800, 1));
  EXPECT_EQ(test::guest_bytes(memory_, 0x200000, 0x123), test::pattern(0x123, 2));
  EXPECT_EQ(test::guest_bytes(memory_, 0x200123, 0x3000 - 0x123), Bytes(0x3000 - 0x123, 0));
  // Nothing past p_memsz is touched.
  EXPECT_EQ(test::guest_bytes(memory_, 0x203000, 0x1000), Bytes(0x1000, 0xCC));
}

TEST_F(MultibootElfTest, EntryStateIsFlatProtectedModeWithTheMultibootRegisters) {
  auto r = load(two_segment_kernel().bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kProtected32);
  EXPECT_EQ(r->rax, 0x2BADB002u);
  EXPECT_EQ(r->rbx, kMultibootInfoAddress);
  EXPECT_EQ(r->rip, 0x100010u);
  EXPECT_EQ(r->rflags, 0x2u);
  EXPECT_EQ(r->rcx, 0u);
  EXPECT_EQ(r->rdx, 0u);
  EXPECT_EQ(r->rsp, 0u);  // Multiboot leaves ESP undefined: the kernel sets its own
  EXPECT_EQ(r->cr3, 0u);
}

TEST_F(MultibootElfTest, ManySegments) {
  std::vector<test::ElfSegmentSpec> segments;
  for (uint32_t i = 0; i < 8; ++i) {
    segments.push_back(test::load_segment(0x100000 + i * 0x10000, test::pattern(0x100 + i, static_cast<uint8_t>(i)),
                                          0x2000));
  }
  auto r = load(test::build_multiboot_elf(segments, 0x100000).bytes);
  ASSERT_TRUE(r) << r.error().message;
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(test::guest_bytes(memory_, 0x100000 + i * 0x10000, 0x100 + i), test::pattern(0x100 + i, static_cast<uint8_t>(i)));
  }
}

TEST_F(MultibootElfTest, HigherHalfEntryIsTranslatedThroughTheSegment) {
  auto elf = test::build_multiboot_elf(
      {test::load_segment(0x100000, test::pattern(0x1000, 1), std::nullopt, 0xC0100000)}, 0xC0100020);
  auto r = load(elf.bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rip, 0x100020u);
  EXPECT_EQ(test::guest_bytes(memory_, 0x100000, 0x1000), test::pattern(0x1000, 1));
}

TEST_F(MultibootElfTest, PhysicalEntryInAHigherHalfKernelIsKept) {
  auto elf = test::build_multiboot_elf(
      {test::load_segment(0x100000, test::pattern(0x1000, 1), std::nullopt, 0xC0100000)}, 0x100040);
  auto r = load(elf.bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rip, 0x100040u);
}

TEST_F(MultibootElfTest, KernelBelowTheInfoAreaIsFine) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x1000, test::pattern(0x7000, 1))}, 0x1000);
  auto r = load(elf.bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x1000, 0x7000), test::pattern(0x7000, 1));
}

TEST_F(MultibootElfTest, VideoModeFlagIsAcceptedAndIgnored) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x100, 1))}, 0x100000,
                                       test::kMbPageAlign | test::kMbMemInfo | test::kMbVideo);
  EXPECT_EQ(error_of(elf.bytes), "<ok>");
}

TEST_F(MultibootElfTest, TruncatedAtEveryLengthIsAnError) {
  Bytes full = two_segment_kernel().bytes;
  for (size_t size = 0; size < full.size(); ++size) {
    Bytes cut(full.begin(), full.begin() + static_cast<long>(size));
    auto r = load(cut);
    ASSERT_FALSE(r) << "truncated to " << size << " bytes loaded";
    if (size < test::ElfLayout::kMultibootOffset + 12) {
      EXPECT_THAT(r.error().message, HasSubstr("no Multiboot header")) << size;
    } else {
      EXPECT_THAT(r.error().message, HasSubstr("passes the end of the file")) << size;
    }
  }
}

TEST_F(MultibootElfTest, NotElfAndNoAddressFields) {
  Bytes image = test::pattern(0x1000, 3);
  test::put_multiboot_header(image, 0x40, test::kMbPageAlign);
  EXPECT_THAT(error_of(image), HasSubstr("does not set flag bit 16 (address fields) and the image is not ELF"));
}

TEST_F(MultibootElfTest, Elf64IsRefused) {
  Bytes image = two_segment_kernel().bytes;
  image[4] = 2;
  EXPECT_THAT(error_of(image), HasSubstr("Multiboot v1 loads only 32-bit ELF files"));
}

TEST_F(MultibootElfTest, BadChecksumAndUnknownFlag) {
  Bytes bad_sum = two_segment_kernel().bytes;
  test::put32(bad_sum, test::ElfLayout::kMultibootOffset + 8, 1);
  EXPECT_THAT(error_of(bad_sum), HasSubstr("bad checksum"));
  auto elf = test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x100, 1))}, 0x100000, 1u << 9);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("require feature bit 9"));
}

TEST_F(MultibootElfTest, SegmentOutsideGuestRam) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x8000000, test::pattern(0x100, 1))}, 0x8000000);
  std::string error = error_of(elf.bytes);
  EXPECT_THAT(error, HasSubstr("ELF program header 0: [0x8000000, 0x8000100)"));
  EXPECT_THAT(error, HasSubstr("is not inside guest RAM (no RAM at its start)"));
}

TEST_F(MultibootElfTest, SegmentRunningPastTheEndOfRam) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x3FFF000, test::pattern(0x100, 1), 0x2000)}, 0x3FFF000);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("is not inside guest RAM (the RAM there ends at 0x4000000)"));
}

TEST_F(MultibootElfTest, HugeMemsz) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x100, 1), 0xF0000000)}, 0x100000);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("(0xf0000000 bytes) is not inside guest RAM"));
}

TEST_F(MultibootElfTest, SegmentWrappingPast4GiB) {
  auto elf = test::build_multiboot_elf({test::load_segment(0xFFFFF000, test::pattern(0x100, 1), 0x2000)}, 0xFFFFF000);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("wraps past 4 GiB"));
}

TEST_F(MultibootElfTest, SegmentsInTheFirmwareRomAreNotRam) {
  ASSERT_TRUE(memory_.add_region("firmware", 0xFFFF0000, 0x10000, true));
  auto elf = test::build_multiboot_elf({test::load_segment(0xFFFF0000, test::pattern(0x100, 1))}, 0xFFFF0000);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("is not inside guest RAM"));
}

TEST_F(MultibootElfTest, FileszLargerThanMemsz) {
  auto elf = two_segment_kernel();
  test::put32(elf.bytes, elf.phdr_offset(0) + 20, 0x100);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("p_filesz 0x1800 is larger than p_memsz 0x100"));
}

TEST_F(MultibootElfTest, SegmentsOverlappingTheInfoArea) {
  for (uint32_t paddr : {0x8000u, 0x7000u, 0xF000u, 0x9800u}) {
    auto elf = test::build_multiboot_elf({test::load_segment(paddr, test::pattern(0x1001, 1))}, paddr);
    EXPECT_THAT(error_of(elf.bytes), HasSubstr("overlaps the Multiboot info area [0x8000, 0x10000)")) << paddr;
  }
  // Only the bss reaching into the area counts too.
  auto bss = test::build_multiboot_elf({test::load_segment(0x6000, test::pattern(0x100, 1), 0x2001)}, 0x6000);
  EXPECT_THAT(error_of(bss.bytes), HasSubstr("overlaps the Multiboot info area"));
  // Touching the area's edges from outside is fine.
  auto below = test::build_multiboot_elf({test::load_segment(0x7000, test::pattern(0x1000, 1))}, 0x7000);
  EXPECT_EQ(error_of(below.bytes), "<ok>");
  auto above = test::build_multiboot_elf({test::load_segment(0x10000, test::pattern(0x1000, 1))}, 0x10000);
  EXPECT_EQ(error_of(above.bytes), "<ok>");
}

TEST_F(MultibootElfTest, OverlappingSegments) {
  auto elf = test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x1000, 1), 0x2000),
                                        test::load_segment(0x101800, test::pattern(0x100, 2))},
                                       0x100000);
  EXPECT_THAT(error_of(elf.bytes), HasSubstr("ELF program header 1: [0x101800, 0x101900) overlaps ELF program header 0"));
}

TEST_F(MultibootElfTest, EntryOutsideTheLoadedBytes) {
  for (uint32_t entry : {0x0u, 0xFFFFFu, 0x101800u, 0x200123u /* bss */, 0x200200u, 0xFFFFFFFFu}) {
    auto elf = test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x1800, 1)),
                                          test::load_segment(0x200000, test::pattern(0x123, 2), 0x3000)},
                                         entry);
    EXPECT_THAT(error_of(elf.bytes), HasSubstr(fmt::format("ELF e_entry {:#x} is outside every loaded segment", entry)))
        << entry;
  }
}

TEST_F(MultibootElfTest, AFailedLoadWritesNothing) {
  test::fill_guest(memory_, 0x100000, 0x2000, 0xCC);
  test::fill_guest(memory_, kMultibootInfoAreaStart, 0x8000, 0xCC);
  Bytes huge_module(70ULL << 20, 1);  // bigger than the guest
  auto r = load(two_segment_kernel().bytes, "", {{"big", huge_module}});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("Multiboot module 0 ('big', 73400320 bytes) does not fit"));
  EXPECT_EQ(test::guest_bytes(memory_, 0x100000, 0x2000), Bytes(0x2000, 0xCC));
  EXPECT_EQ(test::guest_bytes(memory_, kMultibootInfoAreaStart, 0x8000), Bytes(0x8000, 0xCC));
}

TEST_F(MultibootElfTest, ElfWithAddressFieldsUsesTheAddressFields) {
  // Like QEMU: flag bit 16 wins over the ELF program headers.
  auto elf = test::build_multiboot_elf({test::load_segment(0x200000, test::pattern(0x100, 1))}, 0x200000);
  test::MbAddressFields fields;
  fields.load_addr = 0x300000;
  fields.header_addr = 0x300000 + test::ElfLayout::kMultibootOffset;
  fields.load_end_addr = 0x300000 + 0x800;
  fields.bss_end_addr = 0;
  fields.entry_addr = 0x300000 + 0x500;
  test::put_multiboot_header(elf.bytes, test::ElfLayout::kMultibootOffset, test::kMbAddress, fields);
  auto r = load(elf.bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rip, 0x300500u);
  EXPECT_EQ(test::guest_bytes(memory_, 0x300000, 0x800), Bytes(elf.bytes.begin(), elf.bytes.begin() + 0x800));
  EXPECT_EQ(test::guest_bytes(memory_, 0x200000, 0x100), Bytes(0x100, 0));
}

}  // namespace
}  // namespace kvpc
