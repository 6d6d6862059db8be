// The default Linux command line (vmm/boot/linux_cmdline.h): every word PLATFORM.md's test
// kernel needs, the TSC rate and lpj when known, nothing about it when not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "vmm/boot/linux_cmdline.h"
#include "vmm/boot/linux_loader.h"

namespace kvpc {
namespace {

using ::testing::Contains;

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST(LinuxCmdlineTest, HasTheConsoleThePatchSwitchesAndTheCpuWorkarounds) {
  auto w = words(default_linux_cmdline(std::nullopt));
  for (const char* expected : {"console=ttyS0", "panic=-1", "quiet", "rodata=off", "rootfstype=ramfs",
                               "no_timer_check", "tsc=reliable", "noxsave", "skip_int3_selftest=1",
                               "syscall_pf_fixup=1",
                               "clearcpuid=smap,fsgsbase,rdrand,rdseed,invpcid,pku,popcnt,cx16"}) {
    EXPECT_THAT(w, Contains(expected));
  }
}

TEST(LinuxCmdlineTest, TscRateGivesTscEarlyKhzAndMatchingLpj) {
  auto w = words(default_linux_cmdline(2'995'200));
  EXPECT_THAT(w, Contains("tsc_early_khz=2995200"));
  EXPECT_THAT(w, Contains("lpj=29952000"));  // 2995.2 MHz / HZ 100
}

TEST(LinuxCmdlineTest, UnknownOrZeroTscRateLeavesCalibrationToTheKernel) {
  for (auto khz : {std::optional<uint32_t>{}, std::optional<uint32_t>{0}}) {
    auto line = default_linux_cmdline(khz);
    EXPECT_EQ(line.find("tsc_early_khz"), std::string::npos);
    EXPECT_EQ(line.find("lpj="), std::string::npos);
  }
}

TEST(LinuxCmdlineTest, FitsTheKernelsCommandLineBuffers) {
  // x86's COMMAND_LINE_SIZE is 2048; clearcpuid= is parsed into a 128-byte buffer.
  auto line = default_linux_cmdline(4'294'967'295u);
  EXPECT_LT(line.size(), 2048u);
  EXPECT_LT(line.size(), kLinuxPvhMaxCmdline);
  for (const auto& w : words(line)) {
    if (w.rfind("clearcpuid=", 0) == 0) {
      EXPECT_LT(w.size() - 11, 128u);
    }
  }
}

}  // namespace
}  // namespace kvpc
