// The Linux agent behind the public API: IVMGuestOS::Logoff / get_OSName / get_IsHeartbeating
// on a VM whose GuestServices are kvpc's real HostServices, talking to the agent over the test
// transport. A pump thread plays the VM's event loop and the guest (host processing, then agent
// service), with the real clock, as Logoff blocks its caller until the guest acknowledges.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>

#include "tests/unit/agent/agent_rig.h"
#include "tests/unit/integration/api_test_doubles.h"

namespace kvpc {
namespace {

using ::testing::Return;
using testing::AgentRig;

class LinuxAgentApi : public ::testing::Test {
 protected:
  void SetUp() override {
    agent::set_log_sink(agent::LogSink::kNone);
    api.state = std::make_shared<VmApiState>(ApiClock::steady());
    std::shared_ptr<GuestServices> services(std::shared_ptr<void>(), &rig.services);  // not owned
    ON_CALL(*api.host, guest_services()).WillByDefault(Return(services));
    rig.connect();
    pump = std::thread([this] {
      while (!stop) {
        rig.services.process();
        while (rig.agent.service()) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    guest = api.guest_os();
  }
  void TearDown() override {
    stop = true;
    pump.join();
    agent::set_log_sink(agent::LogSink::kStderr);
  }

  // Waits for the task and returns its (result, error).
  static std::pair<VMTaskResult, long> finish(const std::shared_ptr<IVMTask>& task) {
    EXPECT_EQ(task->WaitForCompletion(10000), S_OK);
    VMTaskResult result = vmTaskResult_UnexpectedError;
    long error = 0;
    EXPECT_EQ(task->get_Result(&result), S_OK);
    EXPECT_EQ(task->get_Error(&error), S_OK);
    return {result, error};
  }

  AgentRig rig;
  testing::ApiRig api;
  std::shared_ptr<IVMGuestOS> guest;
  std::atomic<bool> stop{false};
  std::thread pump;
};

TEST_F(LinuxAgentApi, OsNameAndVersionAreTheLinuxOnes) {
  std::string name, major, version;
  EXPECT_EQ(guest->get_OSName(&name), S_OK);
  EXPECT_EQ(name, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(guest->get_OSMajorVersion(&major), S_OK);
  EXPECT_EQ(major, "12");
  EXPECT_EQ(guest->get_OSVersion(&version), S_OK);
  EXPECT_EQ(version, "12 (Linux 6.1.0-13-amd64)");
}

TEST_F(LinuxAgentApi, LogoffEndsTheSessionsThenAnswersNoSuchLogonSession) {
  pid_t alice = testing::spawn_session();
  ASSERT_GT(alice, 0);
  testing::append_utmp(rig.utmp, USER_PROCESS, alice, "pts/3", "alice");

  std::shared_ptr<IVMTask> task;
  ASSERT_EQ(guest->Logoff(&task), S_OK);
  auto [result, error] = finish(task);
  EXPECT_EQ(result, vmTaskResult_Success);
  EXPECT_EQ(error, 0);
  int status = 0;
  ASSERT_EQ(waitpid(alice, &status, 0), alice);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP);

  std::shared_ptr<IVMTask> again;
  ASSERT_EQ(guest->Logoff(&again), S_OK);
  auto [result2, error2] = finish(again);
  EXPECT_NE(result2, vmTaskResult_Success);
  EXPECT_EQ(static_cast<uint32_t>(error2), 0x80070520u);
}

}  // namespace
}  // namespace kvpc
