// IVMGuestOS::Logoff end to end: `kvpc run` with the built-in guest and its agent, then
// `kvpc logoff` (and shutdown/restart/guest/events) as a test rig would call them. One test per
// row of the Logoff table and per task outcome (docs/api.md, ../shared/CONTRACT.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::KvpcProcess;
using testing::run_kvpc;

constexpr int kNobody = 65534;

class LogoffTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_ = testing::make_runtime_dir(); }
  void TearDown() override {
    vm_.reset();
    std::filesystem::remove_all(runtime_);
  }

  // Boots the built-in guest; waits for `ready_line` on its console.
  void boot(const std::string& cmdline, const std::string& ready_line = "agent: ready",
            std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run", "--accel", "auto", "--name", "vm", "--mem", "32M", "--cmdline", cmdline};
    args.insert(args.end(), extra.begin(), extra.end());
    vm_ = std::make_unique<KvpcProcess>(args, runtime_);
    ASSERT_TRUE(vm_->wait_for_output(ready_line, 30s)) << vm_->so_far().out << vm_->so_far().err;
  }

  nlohmann::json call_json(std::vector<std::string> args, int* status = nullptr, int run_as = -1) {
    args.push_back("--json");
    auto result = run_kvpc(args, runtime_, "", 60s, run_as);
    if (status) *status = result.status;
    auto parsed = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "stdout: " << result.out << "\nstderr: " << result.err;
    return parsed;
  }

  std::string runtime_;
  std::unique_ptr<KvpcProcess> vm_;
};

TEST_F(LogoffTest, LogsOffEverySessionReportingProgressAndSucceeds) {
  boot("users=alice,bob");
  int status = -1;
  auto result = call_json({"logoff", "vm", "--wait"}, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(result["vm"], "vm");
  EXPECT_EQ(result["method"], "logoff");
  EXPECT_EQ(result["hresult"], "0x00000000");
  EXPECT_EQ(result["hresult_name"], "S_OK");
  EXPECT_EQ(result["task"]["is_complete"], true);
  EXPECT_EQ(result["task"]["error"], "0x00000000");
  EXPECT_EQ(result["task"]["result"], 0);
  EXPECT_EQ(result["task"]["percent_completed"], 100);
  EXPECT_TRUE(vm_->wait_for_output("logoff: alice", 5s));
  EXPECT_TRUE(vm_->wait_for_output("logoff: bob", 5s));
  // The guest's own session list is empty now.
  vm_->write_stdin("who\r");
  EXPECT_TRUE(vm_->wait_for_output("no one is logged on", 10s)) << vm_->so_far().out;
}

TEST_F(LogoffTest, NobodyLoggedOnEndsTheTaskWithNoSuchLogonSession) {
  boot("");
  int status = -1;
  auto result = call_json({"logoff", "vm", "--wait"}, &status);
  EXPECT_EQ(status, 10);
  EXPECT_EQ(result["hresult"], "0x00000000");
  EXPECT_EQ(result["task"]["error"], "0x80070520");
  EXPECT_EQ(result["task"]["error_name"], "HRESULT_FROM_WIN32(ERROR_NO_SUCH_LOGON_SESSION)");
}

TEST_F(LogoffTest, SessionsLoggedOnAtTheConsoleAreLoggedOff) {
  boot("");
  vm_->write_stdin("login carol\r");
  ASSERT_TRUE(vm_->wait_for_output("carol", 10s));
  auto guest = call_json({"guest", "vm"});
  // The agent reports session changes: IsUserLoggedOn follows the console.
  for (int i = 0; i < 50 && guest["properties"]["IsUserLoggedOn"].value("value", false) != true; ++i) {
    std::this_thread::sleep_for(100ms);
    guest = call_json({"guest", "vm"});
  }
  EXPECT_EQ(guest["properties"]["IsUserLoggedOn"]["value"], true);
  auto result = call_json({"logoff", "vm", "--wait"});
  EXPECT_EQ(result["task"]["error"], "0x00000000");
  EXPECT_TRUE(vm_->wait_for_output("logoff: carol", 5s));
}

TEST_F(LogoffTest, WithoutWaitingTheCallReturnsARunningOrFinishedTask) {
  boot("users=alice");
  auto result = call_json({"logoff", "vm"});
  EXPECT_EQ(result["hresult"], "0x00000000");
  EXPECT_TRUE(result["task"].contains("id"));
  EXPECT_TRUE(result["task"].contains("is_complete"));
}

TEST_F(LogoffTest, PausedVmAnswersNotRunning) {
  boot("users=alice");
  ASSERT_EQ(run_kvpc({"pause", "vm"}, runtime_).status, 0);
  int status = -1;
  auto result = call_json({"logoff", "vm", "--wait"}, &status);
  EXPECT_EQ(status, 10);
  EXPECT_EQ(result["hresult"], "0xA0040206");
  EXPECT_EQ(result["hresult_name"], "VM_E_VM_NOT_RUNNING");
  ASSERT_EQ(run_kvpc({"resume", "vm"}, runtime_).status, 0);
  EXPECT_EQ(call_json({"logoff", "vm", "--wait"})["task"]["error"], "0x00000000");
}

TEST_F(LogoffTest, UnknownVmAnswersVmUnknown) {
  int status = -1;
  auto result = call_json({"logoff", "no-such-vm"}, &status);
  EXPECT_EQ(status, 10);
  EXPECT_EQ(result["hresult"], "0xA0040207");
  EXPECT_EQ(result["hresult_name"], "VM_E_VM_UNKNOWN");
}

// `guest --json` and `events --json` answer a VM that is not there with JSON too (a script that
// parses stdout must not get an empty line), and a non-zero status.
TEST_F(LogoffTest, GuestAndEventsJsonAnswerAnUnknownVmWithJson) {
  for (const char* command : {"guest", "events"}) {
    int status = -1;
    auto result = call_json({command, "no-such-vm"}, &status);
    EXPECT_EQ(status, 2) << command;
    EXPECT_EQ(result["vm"], "no-such-vm") << command;
    EXPECT_EQ(result["method"], command);
    EXPECT_EQ(result["hresult_name"], "VM_E_VM_UNKNOWN") << command;
    EXPECT_NE(result.value("error", "").find("no running VM named 'no-such-vm'"), std::string::npos) << result.dump();
  }
}

TEST_F(LogoffTest, NoAgentAnswersFeatureNotAvailableAndPropertiesSayWhich) {
  boot("users=alice agent=off", "kvpc> ");
  auto result = call_json({"logoff", "vm"});
  EXPECT_EQ(result["hresult"], "0xA0040505");
  EXPECT_EQ(result["hresult_name"], "VM_E_ADDITIONS_FEATURE_NOT_AVAIL");
  auto guest = call_json({"guest", "vm"});
  EXPECT_EQ(guest["properties"]["IsHeartbeating"]["hresult"], "0xA0040504");  // VM_E_ADDITIONS_NOT_AVAIL
  EXPECT_EQ(guest["properties"]["IntegrationComponentsVersion"]["hresult"], "0xA0040504");
  EXPECT_EQ(guest["properties"]["OSName"]["hresult"], "0xA0040505");
}

TEST_F(LogoffTest, AgentWithoutLogoffAnswersFeatureNotAvailable) {
  boot("users=alice agent=nologoff");
  auto result = call_json({"logoff", "vm"});
  EXPECT_EQ(result["hresult"], "0xA0040505");
}

TEST_F(LogoffTest, HungAgentAnswersTimedOut) {
  boot("users=alice agent=hang");
  int status = -1;
  auto result = call_json({"logoff", "vm", "--ack-timeout-ms", "300"}, &status);
  EXPECT_EQ(status, 10);
  EXPECT_EQ(result["hresult"], "0xA0040202");
  EXPECT_EQ(result["hresult_name"], "VM_E_TIMED_OUT");
  // kvpc keeps answering afterwards.
  EXPECT_EQ(run_kvpc({"list", "--json"}, runtime_).status, 0);
}

TEST_F(LogoffTest, ChannelBreakingMidCallAnswersDispException) {
  boot("users=alice agent=hang");
  // The call waits for an acknowledgment that never comes; the guest then resets its link.
  KvpcProcess call({"logoff", "vm", "--ack-timeout-ms", "20000", "--json"}, runtime_);
  // Break the link only once the request is in flight (a fixed sleep raced slow builds).
  bool in_flight = false;
  for (auto deadline = std::chrono::steady_clock::now() + 15s; !in_flight && std::chrono::steady_clock::now() < deadline;) {
    auto state = call_json({"inspect", "vm", "integration"});
    in_flight = state["devices"]["integration"]["services"]["operations_in_flight"].contains("logoff");
    if (!in_flight) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(in_flight) << "the Logoff request never reached the host services";
  vm_->write_stdin("agentreset\r");
  auto result = call.wait(30s);
  auto parsed = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << result.out << result.err;
  EXPECT_EQ(parsed["hresult"], "0x80020009");
  EXPECT_EQ(parsed["hresult_name"], "DISP_E_EXCEPTION");
}

#define KVPC_SKIP_UNLESS_ROOT()                                                                    \
  do {                                                                                             \
    if (geteuid() != 0) GTEST_SKIP() << "skipped: acting as a second user needs root (setuid in the test)"; \
  } while (0)

TEST_F(LogoffTest, CallerWhoCannotReachThePrivateSocketIsDenied) {
  KVPC_SKIP_UNLESS_ROOT();
  boot("users=alice");
  int status = -1;
  auto result = call_json({"logoff", "vm"}, &status, kNobody);
  EXPECT_EQ(status, 10);
  EXPECT_EQ(result["hresult"], "0x80070005");
}

TEST_F(LogoffTest, OtherUserIsDeniedWithAnAuditLineAndAGrantedUserIsAllowed) {
  KVPC_SKIP_UNLESS_ROOT();
  boot("users=alice,bob", "agent: ready", {"--allow-user", std::to_string(kNobody)});
  // nobody is granted: allowed.
  auto granted = call_json({"logoff", "vm", "--wait"}, nullptr, kNobody);
  EXPECT_EQ(granted["hresult"], "0x00000000");
  EXPECT_EQ(granted["task"]["error"], "0x00000000");
  // Another unprivileged user: the socket's ACL grants only nobody, so the connection itself
  // is refused and the CLI reports E_ACCESSDENIED. (A caller that gets past the file check is
  // refused by the peer-credential check with an audit line: socket_access_test.cc.)
  constexpr int kOtherUser = 65533;
  auto denied = call_json({"logoff", "vm"}, nullptr, kOtherUser);
  EXPECT_EQ(denied["hresult"], "0x80070005");
  auto denied_guest = call_json({"guest", "vm"}, nullptr, kOtherUser);
  EXPECT_EQ(denied_guest["hresult"], "0x80070005") << denied_guest.dump();
}

TEST_F(LogoffTest, EventsStreamReportsOnGuestLogoffExternal) {
  boot("users=alice");
  KvpcProcess events({"events", "vm", "--json"}, runtime_);
  std::this_thread::sleep_for(500ms);
  auto result = call_json({"logoff", "vm", "--wait"});
  ASSERT_EQ(result["task"]["error"], "0x00000000");
  EXPECT_TRUE(events.wait_for_output("\"OnGuestLogoff\"", 10s)) << events.so_far().out;
  EXPECT_NE(events.so_far().out.find("\"logoff_type\":2"), std::string::npos) << events.so_far().out;
}

TEST_F(LogoffTest, GuestPropertiesComeFromTheAgent) {
  boot("users=alice hostname=LAB-7");
  auto guest = call_json({"guest", "vm"});
  EXPECT_EQ(guest["hresult"], "0x00000000");
  EXPECT_EQ(guest["properties"]["OSName"]["value"], "kvpc test OS");
  EXPECT_EQ(guest["properties"]["ComputerName"]["value"], "LAB-7");
  EXPECT_EQ(guest["properties"]["IntegrationComponentsVersion"]["value"], "0.1.0");
  // Not reported by this agent: never a made-up value.
  EXPECT_EQ(guest["properties"]["TerminalServerPort"]["hresult"], "0xA0040505");
}

TEST_F(LogoffTest, ShutdownPowersTheGuestOffAndTheRunExitsZero) {
  boot("users=alice");
  auto result = call_json({"shutdown", "vm", "--wait"});
  EXPECT_EQ(result["hresult"], "0x00000000");
  EXPECT_EQ(result["task"]["error"], "0x00000000");
  auto run = vm_->wait(30s);
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("shutdown requested (forced=0)"), std::string::npos);
}

TEST_F(LogoffTest, RestartRebootsTheGuest) {
  boot("users=alice");
  auto result = call_json({"restart", "vm", "--force"});
  EXPECT_EQ(result["hresult"], "0x00000000");
  // The guest boots a second time and its agent comes back.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  bool rebooted = false;
  while (!rebooted && std::chrono::steady_clock::now() < deadline) {
    vm_->wait_for_output("", 200ms);
    const std::string& out = vm_->so_far().out;
    size_t first = out.find("agent: ready");
    rebooted = first != std::string::npos && out.find("agent: ready", first + 1) != std::string::npos;
  }
  EXPECT_TRUE(rebooted) << vm_->so_far().out;
}

TEST_F(LogoffTest, ShutdownWithHungAgentTimesOut) {
  boot("users=alice agent=hang");
  auto result = call_json({"shutdown", "vm", "--ack-timeout-ms", "300"});
  EXPECT_EQ(result["hresult"], "0xA0040202");
}

}  // namespace
}  // namespace kvpc
