// The seccomp filters in a real run (vmm/thread_sandbox.h): on by default on the vCPU and
// event-loop threads, with Logoff working under them; off with --seccomp off. The filters'
// verdicts themselves (a forbidden call stops kvpc naming it) are in tests/unit/vmm/thread_sandbox_test.cc.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;

// Thread name -> the "Seccomp:" mode of /proc/PID/task/TID/status (0 none, 2 filter).
std::map<std::string, int> seccomp_modes(pid_t pid) {
  std::map<std::string, int> modes;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::ifstream status(task.path() / "status");
    std::string line, name;
    int mode = -1;
    while (std::getline(status, line)) {
      if (line.rfind("Name:\t", 0) == 0) name = line.substr(6);
      if (line.rfind("Seccomp:\t", 0) == 0) mode = std::stoi(line.substr(9));
    }
    if (!name.empty()) modes[name] = mode;
  }
  return modes;
}

class SeccompTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_ = testing::make_runtime_dir(); }
  void TearDown() override { std::filesystem::remove_all(runtime_); }
  std::string runtime_;
};

TEST_F(SeccompTest, OnByDefaultForVcpuAndEventLoopThreadsAndLogoffStillWorks) {
  testing::KvpcProcess vm({"run", "--accel", "emu", "--name", "sc", "--mem", "32M", "--cmdline", "users=alice,bob"},
                          runtime_);
  ASSERT_TRUE(vm.wait_for_output("agent: ready", 30s)) << vm.so_far().err;
  auto modes = seccomp_modes(vm.pid());
  ASSERT_TRUE(modes.count("vcpu0")) << "no thread named vcpu0";
  ASSERT_TRUE(modes.count("event-loop")) << "no thread named event-loop";
  EXPECT_EQ(modes["vcpu0"], 2);
  EXPECT_EQ(modes["event-loop"], 2);
  ASSERT_TRUE(modes.count("pc-timer")) << "no thread named pc-timer (the PIT/RTC timer)";
  EXPECT_EQ(modes["pc-timer"], 2);
  EXPECT_EQ(modes["kvpc"], 0) << "the main thread (set-up, teardown) is not filtered";
  auto result = testing::run_kvpc({"logoff", "sc", "--wait", "--json"}, runtime_, "", 60s);
  auto parsed = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << result.out << result.err;
  EXPECT_EQ(parsed["task"]["error_name"], "S_OK");
  EXPECT_TRUE(vm.wait_for_output("logoff: bob", 10s));
  // The rest of a life under the filters: guest properties, pause/resume, a guest reboot
  // (new vCPU thread, old machine dropped on the loop), and a clean power-off.
  EXPECT_EQ(testing::run_kvpc({"guest", "sc"}, runtime_, "", 30s).status, 0);
  EXPECT_EQ(testing::run_kvpc({"pause", "sc"}, runtime_, "", 30s).status, 0);
  EXPECT_EQ(testing::run_kvpc({"resume", "sc"}, runtime_, "", 30s).status, 0);
  vm.write_stdin("reboot\r");
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    vm.wait_for_output("", 200ms);
    const std::string& out = vm.so_far().out;
    size_t first = out.find("agent: ready");
    if (first != std::string::npos && out.find("agent: ready", first + 1) != std::string::npos) break;
  }
  EXPECT_EQ(seccomp_modes(vm.pid())["vcpu0"], 2) << "the new boot's vCPU thread is filtered too";
  vm.write_stdin("poweroff\r");
  auto end = vm.wait(30s);
  EXPECT_EQ(end.status, 0) << end.err;
  EXPECT_EQ(end.err.find("seccomp"), std::string::npos) << end.err;
}

TEST_F(SeccompTest, TraceFlusherStartedWithTheRunEntersItsFilterAndStillWrites) {
  const std::string trace = runtime_ + "/trace.txt";
  testing::KvpcProcess vm({"run", "--accel", "emu", "--name", "tr", "--mem", "32M", "--trace", "pio", "--trace-file", trace},
                          runtime_);
  ASSERT_TRUE(vm.wait_for_output("agent: ready", 30s)) << vm.so_far().err;
  std::this_thread::sleep_for(100ms);  // at least one flush period after the filters exist
  auto modes = seccomp_modes(vm.pid());
  ASSERT_TRUE(modes.count("trace-flush")) << "no thread named trace-flush";
  EXPECT_EQ(modes["trace-flush"], 2);
  const auto size_before = std::filesystem::file_size(trace);
  EXPECT_GT(size_before, 0u);
  vm.write_stdin("poweroff\r");
  auto end = vm.wait(30s);
  EXPECT_EQ(end.status, 0) << end.err;
  EXPECT_EQ(end.err.find("seccomp"), std::string::npos) << end.err;
  std::ifstream text(trace);
  std::string first;
  std::getline(text, first);
  EXPECT_NE(first.find(" pio "), std::string::npos) << first;
}

TEST_F(SeccompTest, SeccompOffLeavesEveryThreadUnfiltered) {
  testing::KvpcProcess vm({"run", "--accel", "emu", "--name", "nosc", "--mem", "32M", "--seccomp", "off"}, runtime_);
  ASSERT_TRUE(vm.wait_for_output("agent: ready", 30s)) << vm.so_far().err;
  auto modes = seccomp_modes(vm.pid());
  ASSERT_TRUE(modes.count("vcpu0"));
  EXPECT_EQ(modes["vcpu0"], 0);
  EXPECT_EQ(modes["event-loop"], 0);
  vm.write_stdin("poweroff\r");
  EXPECT_EQ(vm.wait(30s).status, 0);
}

}  // namespace
}  // namespace kvpc
