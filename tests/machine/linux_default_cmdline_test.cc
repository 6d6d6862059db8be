// A Linux kernel run without --cmdline gets kvpc's default Linux command line
// (vmm/boot/linux_cmdline.h) in guest memory, under each accelerator: with KVM the TSC rate
// from KVM_GET_TSC_KHZ is in it; the emulator knows none, so the line has no tsc_early_khz.
// An explicit --cmdline is passed unchanged. The kernel is a minimal PVH ELF (the machine is
// built, not run).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "devices/char_backend.h"
#include "tests/machine/accelerators.h"
#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/linux_cmdline.h"
#include "vmm/boot/linux_loader.h"
#include "vmm/machine/machine.h"

namespace kvpc {
namespace {

class LinuxDefaultCmdlineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop_.init().ok());
    kernel_ = (std::filesystem::temp_directory_path() / ("kvpc-pvh-" + std::to_string(getpid()))).string();
    // hlt; jmp $-1 at 1 MiB, entered through the PVH note.
    auto image = test::build_pvh_elf({{0x100000, test::Bytes{0xF4, 0xEB, 0xFD}, 0x1000}}, 0x100000);
    std::ofstream(kernel_, std::ios::binary).write(reinterpret_cast<const char*>(image.data()),
                                                    static_cast<std::streamsize>(image.size()));
  }
  void TearDown() override { std::filesystem::remove(kernel_); }

  // The NUL-terminated command line the loader put in guest memory.
  std::string cmdline_in_guest(const std::string& cmdline) {
    MachineConfig config;
    config.accelerator = testing::accelerator_from_name(GetParam());
    config.ram_bytes = 64ULL << 20;
    config.kernel_path = kernel_;
    config.cmdline = cmdline;
    config.display = "none";
    auto machine = Machine::create(config, loop_, MachineHooks{&serial_, &debugcon_});
    EXPECT_TRUE(machine.ok()) << (machine.ok() ? "" : machine.error().message);
    if (!machine.ok()) return "";
    std::string line;
    for (uint64_t gpa = kLinuxCmdlineAddress; line.size() < 4096; ++gpa) {
      auto byte = (*machine)->memory().read_obj<uint8_t>(gpa);
      if (!byte || *byte == 0) break;
      line.push_back(static_cast<char>(*byte));
    }
    return line;
  }

  EventLoop loop_;
  CaptureCharBackend serial_;
  CaptureCharBackend debugcon_;
  std::string kernel_;
};

TEST_P(LinuxDefaultCmdlineTest, NoCmdlineGivesTheDefaultLinuxLine) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  const std::string line = cmdline_in_guest("");
  if (GetParam() == "emu") {
    EXPECT_EQ(line, default_linux_cmdline(std::nullopt));
  } else {
    EXPECT_EQ(line.rfind(default_linux_cmdline(std::nullopt), 0), 0u) << line;
    EXPECT_NE(line.find(" tsc_early_khz="), std::string::npos) << line;
    EXPECT_NE(line.find(" lpj="), std::string::npos) << line;
  }
}

TEST_P(LinuxDefaultCmdlineTest, GivenCmdlineIsKeptAsIs) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  EXPECT_EQ(cmdline_in_guest("console=ttyS0 init=/bin/sh"), "console=ttyS0 init=/bin/sh");
}

INSTANTIATE_TEST_SUITE_P(Accelerators, LinuxDefaultCmdlineTest, ::testing::Values("kvm", "emu"),
                         testing::accelerator_test_name);

}  // namespace
}  // namespace kvpc
