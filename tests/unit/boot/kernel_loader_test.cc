// load_kernel(): dispatch by detected or forced format, and the request's extras (initrd,
// command line, vCPUs) going where each format can take them.
#include "vmm/boot/kernel_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/multiboot_info.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class KernelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { memory_ = std::move(GuestMemory::create_pc(64ULL << 20).value()); }

  Result<CpuEntryState> load(const Bytes& image, KernelFormat format = KernelFormat::kAuto) {
    request_.image = image;
    request_.format = format;
    return load_kernel(request_, memory_);
  }
  std::string error_of(const Bytes& image, KernelFormat format = KernelFormat::kAuto) {
    auto r = load(image, format);
    return r ? std::string("<ok>") : r.error().message;
  }

  GuestMemory memory_;
  KernelLoadRequest request_{.image = {}, .path = "/images/k.bin", .format = KernelFormat::kAuto, .cmdline = "",
                             .initrd = std::nullopt, .initrd_path = "", .cpus = 1, .pci_interrupts = {}};
};

Bytes multiboot_kernel() {
  return test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x100, 1))}, 0x100000).bytes;
}

TEST_F(KernelLoaderTest, AutoDetectsKvpc64) {
  request_.cmdline = "quiet";
  request_.cpus = 2;
  auto r = load(test::build_kvpc64(0x100000, test::pattern(0x40, 1)));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kLong64);
  EXPECT_EQ(test::guest_c_string(memory_, 0x9800), "quiet");
  EXPECT_EQ(test::guest_u32(memory_, 0x941C), 2u);
}

TEST_F(KernelLoaderTest, AutoDetectsMultibootAndPassesTheInitrdAsModule0) {
  Bytes initrd = test::pattern(3000, 0x77);
  request_.initrd = initrd;
  request_.initrd_path = "/images/initrd.img";
  request_.cmdline = "root=/dev/ram0";
  auto r = load(multiboot_kernel());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kProtected32);
  EXPECT_EQ(test::guest_u32(memory_, kMultibootInfoAddress + 20), 1u);
  uint64_t module = kMultibootModuleListAddress;
  EXPECT_EQ(test::guest_u32(memory_, module), 0x101000u);
  EXPECT_EQ(test::guest_bytes(memory_, 0x101000, initrd.size()), initrd);
  EXPECT_EQ(test::guest_c_string(memory_, test::guest_u32(memory_, module + 8)), "/images/initrd.img");
  EXPECT_EQ(test::guest_c_string(memory_, kMultibootCmdlineAddress), "root=/dev/ram0");
}

TEST_F(KernelLoaderTest, AutoDetectsFlat) {
  auto r = load(Bytes{0xEB, 0xFE});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, CpuEntryState::Mode::kReal16);
  EXPECT_EQ(r->cs_selector, 0x1000u);
}

TEST_F(KernelLoaderTest, BzImageGoesToTheLinuxLoader) {
  // The stub has the magic but protocol fields of zero: the Linux loader names the first bad one.
  EXPECT_THAT(error_of(test::build_bzimage_stub()),
              HasSubstr("bzImage setup header field loadflags (offset 0x211)"));
  EXPECT_THAT(error_of(Bytes{1}, KernelFormat::kLinuxBzImage), HasSubstr("too short to hold a setup header"));
  EXPECT_THAT(error_of(Bytes{1}, KernelFormat::kLinuxBzImage), HasSubstr("(loading as linux)"));
}

TEST_F(KernelLoaderTest, ErrorsNameThePath) {
  EXPECT_EQ(error_of({}), "kernel '/images/k.bin': kernel image is empty");
  Bytes elf = multiboot_kernel();
  test::put32(elf, test::ElfLayout::kMultibootOffset, 0);
  EXPECT_THAT(error_of(elf), StartsWith("kernel '/images/k.bin': ELF kernel without a Multiboot header"));
}

TEST_F(KernelLoaderTest, ForcedFormatSkipsDetection) {
  // An ELF file forced to flat is loaded as raw bytes: the user asked for it.
  Bytes elf = multiboot_kernel();
  auto r = load(elf, KernelFormat::kFlat);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x10000, 16), Bytes(elf.begin(), elf.begin() + 16));
  // And a flat file forced to kvpc64 or Multiboot gets that loader's complaint.
  EXPECT_THAT(error_of(test::pattern(0x100, 3), KernelFormat::kKvpc64),
              HasSubstr("magic at offset 0 is not 'KVPC64IM' (loading as kvpc64)"));
  EXPECT_THAT(error_of(test::pattern(0x100, 3), KernelFormat::kMultiboot),
              HasSubstr("no Multiboot header (magic 0x1badb002, 4-byte aligned) in the first 8192 bytes"));
}

TEST_F(KernelLoaderTest, ExtrasAFormatCannotTakeAreRefused) {
  Bytes initrd = {1, 2, 3};
  request_.initrd = initrd;
  EXPECT_THAT(error_of(test::build_kvpc64(0x100000, test::pattern(0x40, 1))),
              HasSubstr("kvpc64 images take no initrd"));
  EXPECT_THAT(error_of(Bytes{0xF4}), HasSubstr("flat images take no initrd"));
  request_.initrd.reset();
  request_.cmdline = "console=ttyS0";
  EXPECT_THAT(error_of(Bytes{0xF4}), HasSubstr("flat images take no command line"));
}

TEST_F(KernelLoaderTest, ZeroCpus) {
  request_.cpus = 0;
  EXPECT_EQ(error_of(Bytes{0xF4}), "kernel '/images/k.bin': at least one vCPU is needed");
}

}  // namespace
}  // namespace kvpc
