// The Linux loader against kvpc's real test kernel (tools/build-test-kernel.sh's vmlinux, an
// ELF with the PVH entry note): the note and segments kvpc reads from it, where they land with
// an initrd and the default command line, and that damaged copies are refused. Skipped with
// the reason when the kernel is not built (tools/test.sh builds it where /dev/kvm is usable;
// KVPC_TEST_KERNEL points elsewhere).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/image_file.h"
#include "vmm/boot/kernel_format.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/linux_cmdline.h"
#include "vmm/boot/linux_loader.h"
#include "vmm/boot/linux_pvh_image.h"

namespace kvpc {
namespace {

using test::Bytes;
constexpr uint64_t kMiB = 1ULL << 20;

std::string test_kernel_path() {
  const char* env = std::getenv("KVPC_TEST_KERNEL");
  return env != nullptr && *env != '\0' ? env : std::string(KVPC_BINARY_DIR) + "/cache/test-kernel/vmlinux";
}

class LinuxTestKernelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = test_kernel_path();
    if (!std::filesystem::exists(path)) {
      GTEST_SKIP() << "skipped: the test kernel is not built: tools/build-test-kernel.sh " << KVPC_BINARY_DIR
                   << "/cache/test-kernel (tools/test.sh does where /dev/kvm is usable), or set KVPC_TEST_KERNEL";
    }
    auto bytes = read_image_file(path, 256 * kMiB);
    ASSERT_TRUE(bytes) << bytes.error().message;
    image_ = std::move(*bytes);
  }
  Bytes image_;
};

TEST_F(LinuxTestKernelLoaderTest, IsDetectedAsPvhWithItsEntryInsideTheTextSegment) {
  auto format = detect_kernel_format(image_);
  ASSERT_TRUE(format) << format.error().message;
  EXPECT_EQ(*format, KernelFormat::kLinuxPvh);
  auto pvh = parse_linux_pvh_image(image_);
  ASSERT_TRUE(pvh) << pvh.error().message;
  ASSERT_FALSE(pvh->segments.empty());
  // CONFIG_PHYSICAL_START: 16 MiB; the entry lies in the first (text) segment.
  EXPECT_EQ(pvh->segments.front().paddr, 16 * kMiB);
  EXPECT_GE(pvh->entry, pvh->segments.front().paddr);
  EXPECT_LT(pvh->entry, pvh->segments.front().paddr + pvh->segments.front().filesz);
}

TEST_F(LinuxTestKernelLoaderTest, LoadsWithInitrdAndTheDefaultCommandLine) {
  auto memory = std::move(GuestMemory::create_pc(256 * kMiB).value());
  Bytes initrd = test::pattern(7 * kMiB, 3);
  const std::string cmdline = default_linux_cmdline(2'000'000);
  KernelLoadRequest request;
  request.image = image_;
  request.path = "vmlinux";
  request.cmdline = cmdline;
  request.initrd = std::span<const uint8_t>(initrd);
  request.initrd_path = "initrd.cpio";
  request.cpus = 1;
  auto entry = load_kernel(request, memory);
  ASSERT_TRUE(entry) << entry.error().message;
  auto pvh = parse_linux_pvh_image(image_);
  ASSERT_TRUE(pvh);
  EXPECT_EQ(entry->rip, pvh->entry);
  EXPECT_EQ(entry->rbx, kLinuxBootParamsAddress);  // PVH: EBX = hvm_start_info
  EXPECT_EQ(memory.read_obj<uint32_t>(kLinuxBootParamsAddress), kHvmStartMagic);
  // Every file byte of every segment is in guest memory at its physical address.
  for (const auto& segment : pvh->segments) {
    Bytes in_guest(segment.filesz);
    ASSERT_TRUE(memory.read(segment.paddr, in_guest));
    EXPECT_TRUE(std::equal(in_guest.begin(), in_guest.end(), image_.begin() + static_cast<long>(segment.offset)))
        << "segment " << segment.index;
  }
  std::string line(cmdline.size(), '\0');
  ASSERT_TRUE(memory.read(kLinuxCmdlineAddress, std::span<uint8_t>(reinterpret_cast<uint8_t*>(line.data()), line.size())));
  EXPECT_EQ(line, cmdline);
}

TEST_F(LinuxTestKernelLoaderTest, TruncatedCopyIsRefused) {
  Bytes truncated(image_.begin(), image_.begin() + static_cast<long>(image_.size() / 2));
  auto memory = std::move(GuestMemory::create_pc(256 * kMiB).value());
  KernelLoadRequest request;
  request.image = truncated;
  request.path = "half-vmlinux";
  request.cpus = 1;
  request.format = KernelFormat::kLinuxPvh;
  EXPECT_FALSE(load_kernel(request, memory));
}

}  // namespace
}  // namespace kvpc
