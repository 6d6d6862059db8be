#include "vmm/boot/kernel_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

Bytes multiboot_elf() {
  return test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x100, 1))}, 0x100000).bytes;
}

TEST(ParseKernelFormat, AcceptsEverySpelling) {
  EXPECT_EQ(parse_kernel_format("auto").value(), KernelFormat::kAuto);
  EXPECT_EQ(parse_kernel_format("multiboot").value(), KernelFormat::kMultiboot);
  EXPECT_EQ(parse_kernel_format("kvpc64").value(), KernelFormat::kKvpc64);
  EXPECT_EQ(parse_kernel_format("flat").value(), KernelFormat::kFlat);
  EXPECT_EQ(parse_kernel_format("linux").value(), KernelFormat::kLinuxBzImage);
  EXPECT_EQ(parse_kernel_format("pvh").value(), KernelFormat::kLinuxPvh);
}

TEST(ParseKernelFormat, RejectsUnknownNamesAndListsTheChoices) {
  for (std::string_view bad : {"", "elf", "Multiboot", "auto ", "bzimage"}) {
    auto r = parse_kernel_format(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message, HasSubstr("auto, multiboot, kvpc64, flat, linux or pvh"));
  }
}

TEST(ParseKernelFormat, NamesRoundTrip) {
  for (auto f : {KernelFormat::kAuto, KernelFormat::kMultiboot, KernelFormat::kKvpc64, KernelFormat::kFlat,
                 KernelFormat::kLinuxBzImage, KernelFormat::kLinuxPvh}) {
    EXPECT_EQ(parse_kernel_format(kernel_format_name(f)).value(), f);
  }
}

TEST(DetectKernelFormat, Kvpc64Magic) {
  EXPECT_EQ(detect_kernel_format(test::build_kvpc64(0x100000, test::pattern(16, 2))).value(), KernelFormat::kKvpc64);
  // The magic alone decides; a broken header is the loader's to report.
  Bytes just_magic;
  test::put_text(just_magic, 0, "KVPC64IM");
  EXPECT_EQ(detect_kernel_format(just_magic).value(), KernelFormat::kKvpc64);
}

TEST(DetectKernelFormat, Kvpc64WinsOverAnEmbeddedMultibootHeader) {
  Bytes image = test::build_kvpc64(0x100000, test::pattern(0x200, 2));
  test::put_multiboot_header(image, 0x100, test::kMbPageAlign);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kKvpc64);
}

TEST(DetectKernelFormat, MultibootElfAndAout) {
  EXPECT_EQ(detect_kernel_format(multiboot_elf()).value(), KernelFormat::kMultiboot);
  EXPECT_EQ(detect_kernel_format(test::build_aout_kludge({})).value(), KernelFormat::kMultiboot);
}

TEST(DetectKernelFormat, MultibootHeaderAtTheLastAlignedSlotOfTheWindow) {
  Bytes image = test::pattern(9000, 3);
  test::put_multiboot_header(image, 8192 - 12, test::kMbPageAlign);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kMultiboot);
}

TEST(DetectKernelFormat, MultibootHeaderCrossingTheWindowIsNotOne) {
  Bytes image = test::pattern(9000, 3);
  test::put_multiboot_header(image, 8192 - 8, test::kMbPageAlign);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kFlat);
}

TEST(DetectKernelFormat, MisalignedMultibootHeaderIsNotOne) {
  Bytes image = test::pattern(0x1000, 3);
  test::put_multiboot_header(image, 0x102, test::kMbPageAlign);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kFlat);
}

TEST(DetectKernelFormat, MultibootMagicWithBadChecksumIsNotOne) {
  Bytes image = test::pattern(0x1000, 3);
  test::put_multiboot_header(image, 0x100, test::kMbPageAlign, {}, 0x12345678);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kFlat);
}

TEST(DetectKernelFormat, ASecondValidHeaderAfterABadOneCounts) {
  Bytes image = test::pattern(0x1000, 3);
  test::put_multiboot_header(image, 0x100, test::kMbPageAlign, {}, 0x12345678);
  test::put_multiboot_header(image, 0x200, test::kMbPageAlign);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kMultiboot);
}

TEST(DetectKernelFormat, MultibootWithAnUnsupportedFlagIsStillMultiboot) {
  // Detection must not fall back to flat: the loader then explains the flag.
  Bytes image = test::pattern(0x1000, 3);
  test::put_multiboot_header(image, 0x100, 1u << 7);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kMultiboot);
}

TEST(DetectKernelFormat, LinuxBzImage) {
  EXPECT_EQ(detect_kernel_format(test::build_bzimage_stub()).value(), KernelFormat::kLinuxBzImage);
}

TEST(DetectKernelFormat, BootSectorWithoutHdrSIsFlat) {
  Bytes image = test::pattern(0x1000, 0x11);
  test::put16(image, 0x1FE, 0xAA55);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kFlat);
  Bytes hdrs_only = test::pattern(0x1000, 0x11);
  test::put_text(hdrs_only, 0x202, "HdrS");
  EXPECT_EQ(detect_kernel_format(hdrs_only).value(), KernelFormat::kFlat);
}

TEST(DetectKernelFormat, BzImageStubTruncatedBeforeHdrSIsFlat) {
  Bytes image = test::build_bzimage_stub();
  image.resize(0x204);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kFlat);
}

TEST(DetectKernelFormat, ElfWithoutMultibootHeaderIsAnError) {
  Bytes image = multiboot_elf();
  test::put32(image, test::ElfLayout::kMultibootOffset, 0);  // erase the magic
  auto r = detect_kernel_format(image);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "ELF kernel without a Multiboot header (kvpc boots 32-bit ELF kernels through Multiboot and 64-bit Linux "
            "vmlinux files through their PVH entry note)");
}

TEST(DetectKernelFormat, Elf64WithPvhNoteIsLinuxPvh) {
  Bytes image = test::build_pvh_elf({{0x1000000, test::pattern(0x100, 1), 0x100}}, 0x1000000);
  EXPECT_EQ(detect_kernel_format(image).value(), KernelFormat::kLinuxPvh);
}

TEST(DetectKernelFormat, Elf64WithoutPvhNoteSaysHowToFixIt) {
  Bytes image = test::build_pvh_elf({{0x1000000, test::pattern(0x100, 1), 0x100}}, 0x1000000, 0);
  auto r = detect_kernel_format(image);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("64-bit ELF kernel: "));
  EXPECT_THAT(r.error().message, HasSubstr("CONFIG_PVH=y"));
}

TEST(DetectKernelFormat, ElfWithBadMultibootChecksumSaysSo) {
  Bytes image = multiboot_elf();
  test::put32(image, test::ElfLayout::kMultibootOffset + 8, 0);
  auto r = detect_kernel_format(image);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("bad checksum"));
  EXPECT_THAT(r.error().message, HasSubstr("offset 0x400"));
}

TEST(DetectKernelFormat, EmptyIsAnError) {
  auto r = detect_kernel_format({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "kernel image is empty");
}

TEST(DetectKernelFormat, AnythingElseIsFlat) {
  EXPECT_EQ(detect_kernel_format(Bytes{0xEB, 0xFE}).value(), KernelFormat::kFlat);  // jmp $
  EXPECT_EQ(detect_kernel_format(Bytes{0x00}).value(), KernelFormat::kFlat);
  EXPECT_EQ(detect_kernel_format(test::pattern(100000, 9)).value(), KernelFormat::kFlat);
  EXPECT_EQ(detect_kernel_format(Bytes{0x7f, 'E', 'L'}).value(), KernelFormat::kFlat);  // not quite ELF
}

}  // namespace
}  // namespace kvpc
