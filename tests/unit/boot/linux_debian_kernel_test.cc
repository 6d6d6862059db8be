// The Linux loader against Debian 12's real stock kernel (tools/fetch-debian-kernel.sh puts
// it in the build tree; tools/test.sh runs that first). Checks the header kvpc reads from it,
// where its pieces land, and that damaged copies of it are refused with the field named.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/image_file.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/linux_loader.h"
#include "vmm/boot/linux_setup_header.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1ULL << 20;

std::string debian_kernel_path() {
  if (const char* env = std::getenv("KVPC_DEBIAN_VMLINUZ")) return env;
  return std::string(KVPC_BINARY_DIR) + "/cache/debian-kernel/vmlinuz";
}

class DebianKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string path = debian_kernel_path();
    if (!std::filesystem::exists(path)) {
      GTEST_SKIP() << "skipped: Debian's vmlinuz is not at " << path
                   << " (tools/fetch-debian-kernel.sh build/cache/debian-kernel downloads it; tools/test.sh does)";
    }
    auto bytes = read_image_file(path, 256 * kMiB);
    ASSERT_TRUE(bytes) << bytes.error().message;
    image_ = std::move(*bytes);
  }
  Bytes image_;
};

TEST_F(DebianKernelTest, HeaderIsAModernSixtyFourBitRelocatableKernel) {
  auto h = parse_linux_setup_header(image_);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_GE(h->version, 0x020C);
  EXPECT_TRUE(h->xloadflags & kXLoadFlagKernel64);
  EXPECT_TRUE(h->relocatable);
  EXPECT_EQ(h->pref_address, 0x1000000u);  // CONFIG_PHYSICAL_START
  EXPECT_GT(h->init_size, h->kernel_size);
  EXPECT_GE(h->cmdline_size, 255u);
  EXPECT_EQ(h->kernel_offset + h->kernel_size, image_.size());
}

TEST_F(DebianKernelTest, LoadsWithInitrdAndCommandLine) {
  auto memory = std::move(GuestMemory::create_pc(256 * kMiB).value());
  Bytes initrd = test::pattern(0x12345, 9);
  KernelLoadRequest request;
  request.image = image_;
  request.path = debian_kernel_path();
  request.cmdline = "console=ttyS0 panic=-1";
  request.initrd = std::span<const uint8_t>(initrd);
  request.pci_interrupts = {{2, 0, 10}};
  auto state = load_kernel(request, memory);
  ASSERT_TRUE(state) << state.error().message;
  auto h = parse_linux_setup_header(image_).value();
  EXPECT_EQ(state->mode, CpuEntryState::Mode::kLong64);
  EXPECT_EQ(state->rip, h.pref_address + 0x200);
  EXPECT_EQ(test::guest_bytes(memory, h.pref_address, 0x10000),
            Bytes(image_.begin() + h.kernel_offset, image_.begin() + h.kernel_offset + 0x10000));
  const uint64_t zp = kLinuxBootParamsAddress;
  EXPECT_EQ(memory.read_obj<uint32_t>(zp + 0x202).value(), kLinuxHeaderMagic);
  EXPECT_EQ(memory.read_obj<uint16_t>(zp + 0x206).value(), h.version);
  EXPECT_EQ(test::guest_c_string(memory, memory.read_obj<uint32_t>(zp + 0x228).value()), "console=ttyS0 panic=-1");
  uint32_t initrd_at = memory.read_obj<uint32_t>(zp + 0x218).value();
  EXPECT_GE(initrd_at, h.pref_address + h.init_size);
  EXPECT_EQ(test::guest_bytes(memory, initrd_at, initrd.size()), initrd);
}

TEST_F(DebianKernelTest, NeedsMoreThanSixtyFourMiB) {
  auto memory = std::move(GuestMemory::create_pc(64 * kMiB).value());
  KernelLoadRequest request;
  request.image = image_;
  request.path = "vmlinuz";
  auto state = load_kernel(request, memory);
  ASSERT_FALSE(state);
  EXPECT_THAT(state.error().message, HasSubstr("give it more memory (--mem)"));
}

TEST_F(DebianKernelTest, DamagedCopiesAreRefusedByField) {
  Bytes truncated(image_.begin(), image_.begin() + image_.size() / 2);
  EXPECT_THAT(parse_linux_setup_header(truncated).error().message, HasSubstr("syssize"));
  Bytes no64 = image_;
  test::put16(no64, LinuxSetupOffsets::kXLoadFlags, 0);
  EXPECT_THAT(parse_linux_setup_header(no64).error().message, HasSubstr("XLF_KERNEL_64"));
  Bytes old = image_;
  test::put16(old, LinuxSetupOffsets::kVersion, 0x0206);
  EXPECT_THAT(parse_linux_setup_header(old).error().message, HasSubstr("version"));
}

}  // namespace
}  // namespace kvpc
