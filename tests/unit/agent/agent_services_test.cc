// The Linux agent's protocol engine against kvpc's real host services over the in-process test
// transport (agent_rig.h): handshake byte for byte, heartbeat, os-info from a fake os-release,
// sessions, shutdown/restart honouring FORCED, time sync, and link resets by the host.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include "tests/unit/agent/agent_rig.h"
#include "tests/unit/integration/test_vectors.h"
#include "tests/support/die_with_parent.h"

namespace kvpc {
namespace {

using testing::AgentRig;
using testing::RecordingObserver;

// The first packet the agent writes to TX, as raw padded bytes.
std::vector<uint8_t> first_tx_packet(AgentRig& rig) {
  auto tx = rig.memory.span(AgentRig::kRingGpa + proto::kPageSize, proto::kPageSize);
  uint32_t length;
  std::memcpy(&length, tx->data() + 4, 4);
  uint32_t padded = (8 + length + 7) & ~7u;
  return std::vector<uint8_t>(tx->data(), tx->data() + padded);
}

TEST(LinuxAgentHost, HelloIsByteForByteTheSharedVector) {
  AgentRig rig;
  ASSERT_TRUE(rig.agent.start());
  EXPECT_EQ(first_tx_packet(rig), testing::vec("hello_request"));
}

TEST(LinuxAgentHost, HandshakeOpensEveryServiceAndTheHostSeesTheAgent) {
  AgentRig rig;
  rig.connect();
  EXPECT_TRUE(rig.agent.ready());
  EXPECT_TRUE(rig.services.agent_present());
  EXPECT_EQ(rig.services.agent_name(), "kvpc-agent");
  EXPECT_EQ(rig.services.agent_features(), 0x7Fu);
  for (uint16_t service = 1; service <= 4; ++service) EXPECT_TRUE(rig.services.channel_ready(service)) << service;
  uint64_t errors = 0;
  for (auto count : rig.services.link_counters().errors) errors += count;
  EXPECT_EQ(errors, 0u);  // nothing the agent sent was refused or malformed
}

TEST(LinuxAgentHost, OsInfoShowsTheLinuxNameAndVersionFromOsRelease) {
  AgentRig rig;
  rig.connect();
  auto info = rig.services.os_info();
  EXPECT_EQ(info["OSName"], "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(info["OSMajorVersion"], "12");
  EXPECT_EQ(info["OSMinorVersion"], "0");
  EXPECT_EQ(info["OSVersion"], "12 (Linux 6.1.0-13-amd64)");
  EXPECT_EQ(info["OSBuildNumber"], "60100");
  EXPECT_EQ(info["ComputerName"], "linux-guest");
  EXPECT_EQ(info.count("SuiteMask"), 0u);  // as the built-in agent: not reported
}

TEST(LinuxAgentHost, HeartbeatsAreAnswered) {
  AgentRig rig;
  rig.connect();
  for (int i = 0; i < 10; ++i) {
    rig.clock.advance(std::chrono::milliseconds(6000));
    rig.services.heartbeat_tick();
    rig.pump(2);
  }
  auto beat = rig.services.heartbeat();
  EXPECT_TRUE(beat.heartbeating);
  EXPECT_EQ(beat.percentage, 100);
  EXPECT_GE(beat.beats_answered, 9u);
}

TEST(LinuxAgentHost, TimeSyncReachesTheSystem) {
  AgentRig rig;
  rig.connect();
  ASSERT_FALSE(rig.system.times.empty());
  EXPECT_EQ(rig.system.times.back(), uint64_t{1700000000} * 1000000000);
  EXPECT_EQ(rig.agent.host_time_ns(), uint64_t{1700000000} * 1000000000);
}

TEST(LinuxAgentHost, ShutdownAndRestartHonourForced) {
  AgentRig rig;
  rig.connect();
  auto shutdown = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kShutdown, true, shutdown), S_OK);
  rig.pump();
  auto restart = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kRestart, false, restart), S_OK);
  rig.pump();
  EXPECT_EQ(rig.system.power, (std::vector<std::string>{"shutdown forced", "restart"}));
  EXPECT_EQ(shutdown->events(), (std::vector<std::string>{"ack 0", "complete 0x00000000"}));
  EXPECT_EQ(restart->events(), (std::vector<std::string>{"ack 0", "complete 0x00000000"}));
}

TEST(LinuxAgentHost, LogoffWithNobodyLoggedOnCompletesNoSuchLogonSession) {
  AgentRig rig;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events(), (std::vector<std::string>{"ack 0", "complete 0x80070520"}));
}

using testing::spawn_session;

TEST(LinuxAgentHost, LogoffEndsRealSessionsFromUtmpAndReportsProgress) {
  AgentRig rig;
  pid_t alice = spawn_session();
  pid_t bob = spawn_session();
  testing::append_utmp(rig.utmp, USER_PROCESS, alice, "pts/7", "alice");
  testing::append_utmp(rig.utmp, USER_PROCESS, bob, "pts/8", "bob");
  rig.connect();
  EXPECT_EQ(rig.services.sessions(), (std::vector<std::string>{"alice", "bob"}));

  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events(), (std::vector<std::string>{"ack 2", "progress 1/2 alice", "progress 2/2 bob",
                                                          "complete 0x00000000"}));
  int status = 0;
  ASSERT_EQ(waitpid(alice, &status, 0), alice);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP);
  ASSERT_EQ(waitpid(bob, &status, 0), bob);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP);
  for (const auto& record : testing::read_utmp(rig.utmp)) EXPECT_EQ(record.ut_type, DEAD_PROCESS);
  EXPECT_EQ(rig.services.sessions(), std::vector<std::string>{});  // SESSION_CHANGED reached the host
}

// A utmp record naming a process that does not lead its own session (stale, forged, or a shell
// that never called setsid) gets that process signalled alone: never the session it shares with
// the agent (here: this test process and whoever started it).
TEST(LinuxAgentHost, RecordOfANonLeaderNeverSignalsTheAgentsSession) {
  AgentRig rig;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t parent = getpid();
  pid_t child = fork();  // no setsid: it shares our session
  if (child == 0) {
    testing::die_with_parent(parent);
    char one = 1;
    if (write(ready[1], &one, 1) != 1) _exit(1);
    for (;;) pause();
  }
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  testing::append_utmp(rig.utmp, USER_PROCESS, child, "pts/9", "mallory");
  testing::append_utmp(rig.utmp, USER_PROCESS, getpid(), "pts/10", "self");
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();  // this process is still here: it was never signalled
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP);
  EXPECT_EQ(observer->events(), (std::vector<std::string>{"ack 2", "progress 1/2 mallory", "progress 2/2 self",
                                                          "complete 0x00000000"}));
}

TEST(LinuxAgentHost, RecoversWhenTheHostResetsTheLink) {
  AgentRig rig;
  rig.connect();
  ASSERT_TRUE(rig.services.channel_ready(3));
  rig.device.host_reset_link();  // ISR.RESET, link down, every channel closed
  rig.pump();
  EXPECT_GE(rig.agent.counters().host_resets, 1u);
  EXPECT_TRUE(rig.agent.ready());
  EXPECT_TRUE(rig.services.channel_ready(3));
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events(), (std::vector<std::string>{"ack 0", "complete 0x80070520"}));
}

}  // namespace
}  // namespace kvpc
