// The window process as kvpc sees it: kvpc-display is untrusted input. A fake display
// (tests/e2e/fake_display_helper.cc, given through KVPC_DISPLAY_HELPER) that refuses, stays
// silent, sends garbage, a short datagram or an out-of-range key, dies, or never acknowledges
// a frame must leave the VM running headless, with one clear line on stderr and the display
// process reaped. A well-behaved fake proves the other direction: it receives only the socket
// and the sealed framebuffer, and the keys it sends reach the guest's console.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::run_kvpc;

std::string fake_display() { return std::string(KVPC_BINARY_DIR) + "/tests/kvpc_fake_display"; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The process `pid` is gone and reaped (not a zombie child of kvpc).
bool gone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

class DisplayProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_ = testing::make_runtime_dir();
    report_ = runtime_ + "/fake-display.report";
  }
  void TearDown() override {
    vm_.reset();
    std::filesystem::remove_all(runtime_);
  }
  // Boots the built-in guest with --display sdl and the fake display in `mode`.
  void boot(const std::string& mode) {
    setenv("DISPLAY", ":kvpc-test-no-such-display", 1);
    setenv("KVPC_DISPLAY_HELPER", fake_display().c_str(), 1);
    setenv("KVPC_FAKE_DISPLAY_MODE", mode.c_str(), 1);
    setenv("KVPC_FAKE_DISPLAY_REPORT", report_.c_str(), 1);
    vm_ = std::make_unique<testing::KvpcProcess>(
        std::vector<std::string>{"run", "--accel", "emu", "--name", "fakedisp", "--mem", "32M", "--display", "sdl"},
        runtime_);
    for (const char* name : {"DISPLAY", "KVPC_DISPLAY_HELPER", "KVPC_FAKE_DISPLAY_MODE", "KVPC_FAKE_DISPLAY_REPORT"}) {
      unsetenv(name);
    }
    ASSERT_TRUE(vm_->wait_for_output("kvpc> ", 30s)) << vm_->so_far().err;
  }
  bool wait_for_error(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      vm_->wait_for_output("\x01 never printed", 100ms);  // drains stdout and stderr
      if (vm_->so_far().err.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  pid_t fake_pid() { return static_cast<pid_t>(std::atoi(read_text(report_ + ".pid").c_str())); }
  // The VM still runs: its console answers and `kvpc list` shows it Running.
  void expect_vm_alive() {
    vm_->write_stdin("echo alive\r");
    EXPECT_TRUE(vm_->wait_for_output("\nalive", 20s)) << vm_->so_far().out;
    auto listed = run_kvpc({"list", "--json"}, runtime_);
    ASSERT_EQ(listed.status, 0) << listed.err;
    auto json = nlohmann::json::parse(listed.out, nullptr, false);
    ASSERT_TRUE(json.contains("vms")) << listed.out;
    ASSERT_EQ(json["vms"].size(), 1u) << listed.out;
    EXPECT_EQ(json["vms"][0]["state"], "Running") << listed.out;
  }
  // The display closed for `reason`, was reaped, and the VM goes on.
  void expect_closed_headless(const std::string& reason, std::chrono::milliseconds timeout = 10s) {
    ASSERT_TRUE(wait_for_error(reason, timeout)) << vm_->so_far().err;
    EXPECT_NE(vm_->so_far().err.find("the VM keeps running headless"), std::string::npos) << vm_->so_far().err;
    const pid_t pid = fake_pid();
    ASSERT_GT(pid, 0);
    bool reaped = false;
    for (int i = 0; i < 50 && !reaped; ++i) {
      reaped = gone(pid);
      if (!reaped) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(reaped) << "the fake display " << pid << " was not killed and reaped";
    expect_vm_alive();
  }

  std::string runtime_, report_;
  std::unique_ptr<testing::KvpcProcess> vm_;
};

// What `readelf -d` says of a binary (its dynamic section), or "" without readelf.
std::string dynamic_section(const std::string& binary) {
  std::string text;
  FILE* pipe = popen(("readelf -d " + binary + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  pclose(pipe);
  return text;
}

TEST(DisplayBinaries, KvpcLinksNoSharedObjectAndKvpcDisplayLinksSdl) {
  if (std::system("command -v readelf >/dev/null 2>&1") != 0) GTEST_SKIP() << "skipped: readelf (binutils) is missing";
  const std::string kvpc = dynamic_section(testing::kvpc_binary());
  if (KVPC_KVPC_IS_STATIC) {
    EXPECT_NE(kvpc.find("There is no dynamic section in this file."), std::string::npos) << kvpc;
  } else {  // sanitizer, fuzz or KVPC_STATIC_KVPC=OFF builds: dynamic, but never SDL
    EXPECT_NE(kvpc.find("libc.so"), std::string::npos) << kvpc;
  }
  EXPECT_EQ(kvpc.find("libSDL2"), std::string::npos) << kvpc;
  const std::string window = dynamic_section(std::string(KVPC_BINARY_DIR) + "/tools/kvpc-display");
  EXPECT_NE(window.find("Shared library: [libSDL2-2.0.so.0]"), std::string::npos) << window;
}

TEST_F(DisplayProcessTest, ADisplayThatCannotOpenAWindowLeavesTheVmHeadless) {
  boot("refuse");
  ASSERT_TRUE(wait_for_error("--display sdl: cannot open a window: the fake display refuses (running headless)", 5s))
      << vm_->so_far().err;
  expect_vm_alive();
}

TEST_F(DisplayProcessTest, ADisplayThatExitsAtStartLeavesTheVmHeadless) {
  boot("exit-at-start");
  ASSERT_TRUE(wait_for_error("--display sdl: kvpc-display exited before opening a window (exit status 7) (running headless)", 5s))
      << vm_->so_far().err;
  EXPECT_TRUE(gone(fake_pid()));
  expect_vm_alive();
}

TEST_F(DisplayProcessTest, AMissingHelperIsTheSameHeadlessError) {
  setenv("DISPLAY", ":kvpc-test-no-such-display", 1);
  setenv("KVPC_DISPLAY_HELPER", (runtime_ + "/no-such-kvpc-display").c_str(), 1);
  vm_ = std::make_unique<testing::KvpcProcess>(
      std::vector<std::string>{"run", "--accel", "emu", "--name", "fakedisp", "--mem", "32M", "--display", "sdl"}, runtime_);
  unsetenv("DISPLAY");
  unsetenv("KVPC_DISPLAY_HELPER");
  ASSERT_TRUE(vm_->wait_for_output("kvpc> ", 30s)) << vm_->so_far().err;
  ASSERT_TRUE(wait_for_error("--display sdl: KVPC_DISPLAY_HELPER=" + runtime_ +
                                 "/no-such-kvpc-display is not an executable (running headless)",
                             5s))
      << vm_->so_far().err;
  expect_vm_alive();
}

// --display auto (the default): a window only when a display server is named AND kvpc-display
// exists; without the program the VM runs headless without an error.
TEST_F(DisplayProcessTest, AutoOpensAWindowOnlyWhenKvpcDisplayExists) {
  for (const bool helper_there : {false, true}) {
    SCOPED_TRACE(helper_there ? "helper there" : "helper missing");
    std::filesystem::remove(report_ + ".pid");
    setenv("DISPLAY", ":kvpc-test-no-such-display", 1);
    setenv("KVPC_DISPLAY_HELPER", helper_there ? fake_display().c_str() : (runtime_ + "/none").c_str(), 1);
    setenv("KVPC_FAKE_DISPLAY_MODE", "typist", 1);
    setenv("KVPC_FAKE_DISPLAY_REPORT", report_.c_str(), 1);
    vm_ = std::make_unique<testing::KvpcProcess>(
        std::vector<std::string>{"run", "--accel", "emu", "--name", "fakedisp", "--mem", "32M"}, runtime_);
    for (const char* name : {"DISPLAY", "KVPC_DISPLAY_HELPER", "KVPC_FAKE_DISPLAY_MODE", "KVPC_FAKE_DISPLAY_REPORT"}) {
      unsetenv(name);
    }
    ASSERT_TRUE(vm_->wait_for_output("kvpc> ", 30s)) << vm_->so_far().err;
    EXPECT_EQ(std::filesystem::exists(report_ + ".pid"), helper_there);
    EXPECT_EQ(vm_->so_far().err.find("headless"), std::string::npos) << vm_->so_far().err;
    vm_.reset();
  }
}

TEST_F(DisplayProcessTest, ADisplayThatNeverAnswersTimesOutAndTheVmRunsHeadless) {
  boot("silent");  // the boot waited for kvpc-display's 10 s start-up timeout
  ASSERT_TRUE(wait_for_error("kvpc-display did not open a window within 10 s (running headless)", 5s))
      << vm_->so_far().err;
  const pid_t pid = fake_pid();
  EXPECT_TRUE(gone(pid)) << "the silent display " << pid << " still exists";
  expect_vm_alive();
}

TEST_F(DisplayProcessTest, GarbageFromTheDisplayIsRefusedAndTheVmRunsHeadless) {
  boot("garbage");
  expect_closed_headless("kvpc-display sent a message kvpc refuses (bad magic");
}

TEST_F(DisplayProcessTest, AShortMessageIsRefused) {
  boot("short");
  expect_closed_headless("kvpc-display sent a message kvpc refuses (a message of 10 bytes");
}

TEST_F(DisplayProcessTest, AKeyOutOfRangeIsRefused) {
  boot("bad-key");
  expect_closed_headless("kvpc-display sent a message kvpc refuses (key HID usage 511 is out of range");
}

TEST_F(DisplayProcessTest, ADisplayThatDiesLeavesTheVmHeadless) {
  boot("die");
  expect_closed_headless("kvpc-display exited");
}

TEST_F(DisplayProcessTest, ADisplayThatNeverAcknowledgesAFrameIsClosed) {
  boot("no-ack");
  expect_closed_headless("kvpc-display did not acknowledge a frame within 5 s", 15s);
}

TEST_F(DisplayProcessTest, TheDisplayGetsOnlyTheSocketAndASealedFramebufferAndItsKeysReachTheGuest) {
  boot("typist");
  std::ofstream(report_ + ".go") << "go\n";
  EXPECT_TRUE(vm_->wait_for_output("\nfake", 20s)) << vm_->so_far().out;
  const std::string report = read_text(report_);
  EXPECT_NE(report.find("fds 0,1,2,3,4\n"), std::string::npos) << report;
  EXPECT_NE(report.find("shrink no\n"), std::string::npos) << report;
  EXPECT_NE(report.find("map-writable no\n"), std::string::npos) << report;
  EXPECT_NE(report.find("frame 720x400 resized 1\n"), std::string::npos) << report;
  EXPECT_NE(report.find("pixel0 "), std::string::npos) << report;
  EXPECT_EQ(vm_->so_far().err.find("headless"), std::string::npos) << vm_->so_far().err;
  // A VM with a window maps no shared object of its own at all when kvpc is static.
  const std::string maps = read_text("/proc/" + std::to_string(vm_->pid()) + "/maps");
  EXPECT_EQ(maps.find("libSDL"), std::string::npos);
  if (KVPC_KVPC_IS_STATIC) {
    EXPECT_EQ(maps.find(".so"), std::string::npos) << maps;
  }
  // Stopping the VM ends the display too (kQuit, then reaped).
  const pid_t pid = fake_pid();
  auto stopped = run_kvpc({"stop", "fakedisp"}, runtime_);
  EXPECT_EQ(stopped.status, 0) << stopped.err;
  vm_->wait(20s);
  EXPECT_TRUE(gone(pid)) << "the display " << pid << " outlived its VM";
}

// Closing the window (kClose from the display): the first close asks the guest to shut down
// through its agent, which powers the VM off; a second close stops the VM at once.
TEST_F(DisplayProcessTest, ClosingTheWindowAsksTheGuestToShutDown) {
  boot("closer");
  ASSERT_TRUE(vm_->wait_for_output("agent: ready", 20s)) << vm_->so_far().out;
  const pid_t pid = fake_pid();
  std::ofstream(report_ + ".go") << "go\n";
  auto ended = vm_->wait(30s);
  EXPECT_FALSE(ended.timed_out) << ended.out << ended.err;
  EXPECT_EQ(ended.status, 0) << ended.out << ended.err;
  EXPECT_EQ(ended.err.find("cannot be asked to shut down"), std::string::npos) << ended.err;
  EXPECT_TRUE(gone(pid)) << "the display " << pid << " outlived its VM";
}

TEST_F(DisplayProcessTest, ClosingTheWindowTwiceStopsTheVm) {
  boot("closer-twice");
  const pid_t pid = fake_pid();
  std::ofstream(report_ + ".go") << "go\n";
  auto ended = vm_->wait(30s);
  EXPECT_FALSE(ended.timed_out) << ended.out << ended.err;
  EXPECT_NE(ended.err.find("the display window was closed twice"), std::string::npos) << ended.err;
  EXPECT_TRUE(gone(pid)) << "the display " << pid << " outlived its VM";
}

}  // namespace
}  // namespace kvpc
