// The Linux test kernel under QEMU TCG, where no KVM is needed (tools/qemu-boot-test-kernel.sh):
// it boots tools/build-initramfs.sh's image to getty's prompt with the patch switches off, on,
// and with kvpc's default command line; syscall-pf-probe's system calls through
// entry_SYSCALL_64's fetch fault complete with syscall_pf_fixup and die of SIGSEGV without it;
// two logins (ttyS0 and telnet on a pty) are both in utmp. Skipped with the reason when the
// test kernel is not built (tools/test.sh builds it only where /dev/kvm is usable) or QEMU is
// missing.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

std::string test_kernel_path() {
  const char* env = std::getenv("KVPC_TEST_KERNEL");
  return env != nullptr && *env != '\0' ? env : std::string(KVPC_BINARY_DIR) + "/cache/test-kernel/vmlinux";
}

// Runs `command`, returns its exit status and stdout+stderr.
int run(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

class LinuxTestKernelQemuTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kernel_ = test_kernel_path();
    if (!std::filesystem::exists(kernel_)) {
      GTEST_SKIP() << "skipped: the test kernel is not built: tools/build-test-kernel.sh " << KVPC_BINARY_DIR
                   << "/cache/test-kernel (tools/test.sh does where /dev/kvm is usable), or set KVPC_TEST_KERNEL";
    }
    if (std::system("command -v qemu-system-x86_64 >/dev/null") != 0) {
      GTEST_SKIP() << "skipped: qemu-system-x86_64 is not installed (tools/setup-debian.sh --kernel)";
    }
    char dir[] = "/tmp/kvpc-qemu-linux-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    std::string log;
    ASSERT_EQ(run("cd " + std::string(KVPC_SOURCE_DIR) + " && bash tools/build-initramfs.sh -o " + dir_ +
                      "/initrd.cpio --telnetd --agent " + KVPC_BINARY_DIR + "/guest-agent/linux/kvpc-agent",
                  log),
              0)
        << log;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string kernel_, dir_;
};

TEST_P(LinuxTestKernelQemuTest, BootsToGettyAndTheSyscallFixupDoesWhatItsSwitchSays) {
  const std::string params = GetParam();
  std::string out;
  const std::string extra = params == "kvpc" ? " --two-logins" : "";
  int status = run("cd " + std::string(KVPC_SOURCE_DIR) + " && bash tools/qemu-boot-test-kernel.sh " + kernel_ + " " +
                       dir_ + "/initrd.cpio --params " + params + " --probe --timeout 300" + extra,
                   out);
  std::printf("%s", out.c_str());
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("boot: login prompt after"), std::string::npos) << out;
  if (params == "off") {
    EXPECT_NE(out.find("probe: probe-status=139"), std::string::npos) << out;
  } else {
    EXPECT_NE(out.find("probe: syscall-pf-probe: ok"), std::string::npos) << out;
  }
  if (params == "kvpc") {
    EXPECT_NE(out.find("two-logins: who lists alice (ttyS0) and bob (pts)"), std::string::npos) << out;
  }
}

INSTANTIATE_TEST_SUITE_P(Params, LinuxTestKernelQemuTest, ::testing::Values("off", "on", "kvpc"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace kvpc
