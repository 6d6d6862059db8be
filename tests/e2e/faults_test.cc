// Faults end to end: every call ends with an answer and nothing leaks when the guest agent
// stalls mid-Logoff, the guest resets or powers off mid-call, clients vanish while they wait,
// or kvpc itself is SIGKILLed. (Agent hangs before acknowledging and the agent's own link reset
// mid-call are in cli_logoff_test.cc.)
#include <gtest/gtest.h>

#include <dirent.h>

#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::KvpcProcess;
using testing::run_kvpc;

// "fd -> target" for every descriptor of a process (for a readable diff when counts differ).
std::string describe_fds(const std::string& fd_dir) {
  std::string text;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(fd_dir, error)) {
    text += entry.path().filename().string() + " -> " + std::filesystem::read_symlink(entry.path(), error).string() + "\n";
  }
  return text;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

size_t entries_in(const std::string& path) {
  size_t count = 0;
  if (DIR* dir = opendir(path.c_str())) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
  }
  return count;
}

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_ = testing::make_runtime_dir(); }
  void TearDown() override {
    vm_.reset();
    std::filesystem::remove_all(runtime_);
  }

  void boot(const std::string& cmdline, const std::string& name = "vm") {
    vm_ = std::make_unique<KvpcProcess>(
        std::vector<std::string>{"run", "--accel", "emu", "--name", name, "--mem", "32M", "--cmdline", cmdline},
        runtime_);
    ASSERT_TRUE(vm_->wait_for_output("agent: ready", 30s)) << vm_->so_far().out << vm_->so_far().err;
  }

  // `agentreset` at the guest console; returns once the agent is ready again.
  void restart_agent() {
    size_t ready_before = count_of(vm_->so_far().out, "agent: ready");
    vm_->write_stdin("agentreset\r");
    auto deadline = Clock::now() + 30s;
    while (count_of(vm_->so_far().out, "agent: ready") == ready_before && Clock::now() < deadline) {
      vm_->wait_for_output("", 100ms);
    }
    ASSERT_GT(count_of(vm_->so_far().out, "agent: ready"), ready_before) << vm_->so_far().out;
  }

  static nlohmann::json parse(const testing::ProcessResult& result) {
    auto parsed = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "stdout: " << result.out << "\nstderr: " << result.err;
    return parsed;
  }

  std::string runtime_;
  std::unique_ptr<KvpcProcess> vm_;
};

TEST_F(FaultsTest, AgentStallingMidLogoffEndsTheTaskTimedOutByItsDeadline) {
  boot("users=alice agent=stall");
  auto start = Clock::now();
  auto result = run_kvpc({"logoff", "vm", "--wait", "--timeout-ms", "1500", "--json"}, runtime_, "", 30s);
  auto elapsed = Clock::now() - start;
  auto parsed = parse(result);
  EXPECT_EQ(result.status, 10);
  EXPECT_EQ(parsed["hresult_name"], "S_OK");  // the call was accepted and acknowledged ...
  EXPECT_EQ(parsed["task"]["is_complete"], true);
  EXPECT_EQ(parsed["task"]["error"], "0xA0040202");  // ... and the task ended at its deadline
  EXPECT_EQ(parsed["task"]["error_name"], "VM_E_TIMED_OUT");
  EXPECT_TRUE(vm_->wait_for_output("agent: logoff acknowledged, stalling", 5s));
  EXPECT_GE(elapsed, 1400ms);
  EXPECT_LT(elapsed, 8s) << "the task outlived its 1.5 s deadline by far";
  // The guest still holds that request: until it answers or its agent restarts, a new call is
  // answered VM_E_TIMED_OUT at once (the guest "has not answered in a timely manner"), never hangs.
  auto start_busy = Clock::now();
  auto busy = parse(run_kvpc({"logoff", "vm", "--json"}, runtime_, "", 30s));
  EXPECT_EQ(busy["hresult_name"], "VM_E_TIMED_OUT");
  EXPECT_LT(Clock::now() - start_busy, 5s);
  // An agent restart (new HELLO) ends the old request; the next call is accepted again.
  restart_agent();
  auto again = parse(run_kvpc({"logoff", "vm", "--json"}, runtime_, "", 30s));
  EXPECT_EQ(again["hresult_name"], "S_OK");
}

TEST_F(FaultsTest, GuestResetMidCallEndsTheTaskBrokenNeverHanging) {
  boot("users=alice agent=stall");
  KvpcProcess call({"logoff", "vm", "--wait", "--timeout-ms", "60000", "--json"}, runtime_);
  ASSERT_TRUE(vm_->wait_for_output("stalling", 20s));
  auto start = Clock::now();
  vm_->write_stdin("reboot\r");  // the i8042 reset line: the machine resets under the call
  auto result = call.wait(40s);
  EXPECT_FALSE(result.timed_out);
  EXPECT_LT(Clock::now() - start, 30s);
  auto parsed = parse(result);
  const std::string error = parsed["task"].value("error_name", "");
  EXPECT_TRUE(error == "DISP_E_EXCEPTION" || error == "VM_E_VM_NOT_RUNNING") << result.out;
  // The rebooted guest's agent comes back and answers.
  auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    vm_->wait_for_output("", 200ms);
    const std::string& out = vm_->so_far().out;
    size_t first = out.find("agent: ready");
    if (first != std::string::npos && out.find("agent: ready", first + 1) != std::string::npos) break;
  }
  EXPECT_EQ(run_kvpc({"guest", "vm", "--json"}, runtime_, "", 30s).status, 0);
}

TEST_F(FaultsTest, GuestPowerOffMidCallAnswersTheCallerBeforeKvpcExits) {
  boot("users=alice agent=stall");
  KvpcProcess call({"logoff", "vm", "--wait", "--timeout-ms", "60000", "--json"}, runtime_);
  ASSERT_TRUE(vm_->wait_for_output("stalling", 20s));
  vm_->write_stdin("poweroff\r");
  auto result = call.wait(30s);
  EXPECT_FALSE(result.timed_out);
  auto parsed = parse(result);
  const std::string error = parsed["task"].value("error_name", "");
  EXPECT_TRUE(error == "VM_E_VM_NOT_RUNNING" || error == "DISP_E_EXCEPTION") << result.out;
  EXPECT_EQ(vm_->wait(30s).status, 0);
}

TEST_F(FaultsTest, ClientsThatVanishWhileWaitingLeakNothing) {
  boot("users=alice agent=stall");
  const std::string fd_dir = "/proc/" + std::to_string(vm_->pid()) + "/fd";
  const std::string task_dir = "/proc/" + std::to_string(vm_->pid()) + "/task";
  // Settle: one full call (accepted, then ended by its deadline) so lazily created state exists.
  run_kvpc({"logoff", "vm", "--wait", "--timeout-ms", "300", "--json"}, runtime_, "", 30s);
  restart_agent();  // frees the operation slot the settling call's stalled request holds
  const size_t fds_before = entries_in(fd_dir);
  const std::string fds_before_text = describe_fds(fd_dir);
  const size_t threads_before = entries_in(task_dir);
  constexpr int kClients = 8;
  for (int i = 0; i < kClients; ++i) {
    size_t stalls_before = count_of(vm_->so_far().out, "stalling");
    KvpcProcess client({"logoff", "vm", "--wait", "--timeout-ms", "400", "--json"}, runtime_);
    // Killed once its call is acknowledged and waiting for the guest to finish.
    auto deadline = Clock::now() + 10s;
    while (count_of(vm_->so_far().out, "stalling") == stalls_before && Clock::now() < deadline) {
      vm_->wait_for_output("", 50ms);
    }
    client.signal(SIGKILL);
    client.wait(5s);
    std::this_thread::sleep_for(500ms);  // past the task's deadline
    restart_agent();  // the stalled request ends; the next client's call is accepted
  }
  // Every abandoned wait has ended: no descriptor or thread more than before. (Fewer is fine: a
  // worker of the settling call can still be finishing when the baseline is taken under load.)
  size_t fds_after = 0, threads_after = 0;
  auto deadline = Clock::now() + 15s;
  do {
    std::this_thread::sleep_for(200ms);
    fds_after = entries_in(fd_dir);
    threads_after = entries_in(task_dir);
  } while ((fds_after > fds_before || threads_after > threads_before) && Clock::now() < deadline);
  EXPECT_LE(fds_after, fds_before) << "before:\n" << fds_before_text << "after:\n" << describe_fds(fd_dir);
  EXPECT_LE(threads_after, threads_before);
  EXPECT_EQ(count_of(vm_->so_far().out, "stalling"), static_cast<size_t>(kClients + 1)) << "every call reached the guest";
  // And the operation slot is free: a new call is accepted (not E_BUSY).
  auto again = parse(run_kvpc({"logoff", "vm", "--json"}, runtime_, "", 30s));
  EXPECT_EQ(again["hresult_name"], "S_OK");
}

TEST_F(FaultsTest, SigkilledKvpcLeavesASocketTheNextStartCleansUp) {
  boot("users=alice", "crash");
  const std::string socket_path = runtime_ + "/crash.sock";
  ASSERT_TRUE(std::filesystem::exists(socket_path));
  vm_->signal(SIGKILL);
  EXPECT_EQ(vm_->wait(10s).status, 128 + SIGKILL);
  EXPECT_TRUE(std::filesystem::exists(socket_path)) << "SIGKILL gives kvpc no chance to clean up";
  // The next start with the same name finds nobody listening, removes the socket and runs.
  boot("users=alice", "crash");
  auto listed = run_kvpc({"list"}, runtime_, "", 20s);
  EXPECT_NE(listed.out.find("crash"), std::string::npos) << listed.out;
  EXPECT_EQ(run_kvpc({"logoff", "crash", "--wait"}, runtime_, "", 30s).status, 0);
}

}  // namespace
}  // namespace kvpc
