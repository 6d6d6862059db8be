// kvpc never creates a world-writable file: not in its runtime folder (the folder, the control
// socket) and not in the files it writes for the user (--serial/--debugcon file:PATH), even when
// started with umask 000, and not with --allow-user (the granted user gets in through an ACL,
// docs/security.md).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;

// Every path under `root` (and root itself) whose mode has o+w.
std::vector<std::string> world_writable_under(const std::string& root) {
  std::vector<std::string> found;
  struct stat info{};
  if (lstat(root.c_str(), &info) == 0 && (info.st_mode & S_IWOTH) != 0) found.push_back(root);
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, error)) {
    if (lstat(entry.path().c_str(), &info) == 0 && !S_ISLNK(info.st_mode) && (info.st_mode & S_IWOTH) != 0) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

// Runs a VM with `extra` flags under umask 000 and checks every file kvpc made. Besides "not
// world-writable", the runtime folder and socket give "other" nothing at all.
void expect_private_files(const std::vector<std::string>& extra, mode_t runtime_mode) {
  std::string scratch = testing::make_runtime_dir();
  std::string runtime = scratch + "/run";  // kvpc creates this one itself
  std::string outputs = scratch + "/out";
  std::filesystem::create_directory(outputs);
  std::vector<std::string> args = {"run", "--accel", "emu", "--name", "modes", "--mem", "32M", "--serial",
                                   "file:" + outputs + "/serial.log", "--debugcon", "file:" + outputs + "/debugcon.log",
                                   "--cmdline", "users=alice"};
  args.insert(args.end(), extra.begin(), extra.end());
  mode_t old_mask = umask(0);  // the child inherits it: kvpc must not rely on the caller's umask
  testing::KvpcProcess vm(args, runtime);
  umask(old_mask);
  // While it runs: the runtime folder and the socket exist.
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    std::this_thread::sleep_for(100ms);
    // The socket comes with the session, the outputs with the machine a moment later.
    up = std::filesystem::exists(runtime + "/modes.sock") && std::filesystem::exists(outputs + "/serial.log") &&
         std::filesystem::exists(outputs + "/debugcon.log");
  }
  ASSERT_TRUE(up) << vm.so_far().err;
  EXPECT_EQ(world_writable_under(runtime), std::vector<std::string>{});
  EXPECT_EQ(world_writable_under(outputs), std::vector<std::string>{});
  struct stat info{};
  ASSERT_EQ(stat((outputs + "/serial.log").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(runtime.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, runtime_mode);
  ASSERT_EQ(stat((runtime + "/modes.sock").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0007, 0u) << std::oct << info.st_mode;
  EXPECT_EQ(testing::run_kvpc({"stop", "modes"}, runtime, "", 20s).status, 0);
  EXPECT_EQ(vm.wait(30s).status, 0);
  EXPECT_EQ(world_writable_under(scratch), std::vector<std::string>{});
  std::filesystem::remove_all(scratch);
}

TEST(FileModesTest, NothingKvpcCreatesIsWorldWritableEvenWithUmaskZero) { expect_private_files({}, 0700); }

// --allow-user grants through ACLs: the folder shows the ACL mask (search) in its group bits.
TEST(FileModesTest, AllowUserOpensNothingToOthers) { expect_private_files({"--allow-user", "65534"}, 0710); }

}  // namespace
}  // namespace kvpc
