// Heartbeat (percentage over a simulated minute), os-info, sessions and time sync.
#include <gtest/gtest.h>

#include "tests/unit/integration/fake_guest.h"

namespace kvpc::testing {
namespace {

using namespace proto;
using std::chrono::milliseconds;
using std::chrono::seconds;

// One heartbeat interval: the timer fires, the exchange runs, the clock moves on.
void beat(TestRig& rig, milliseconds interval = milliseconds(6000)) {
  rig.services.heartbeat_tick();
  rig.pump(3);
  rig.clock.advance(interval);
}

TEST(Heartbeat, HealthyAgentScores100OverAMinute) {
  TestRig rig;
  rig.connect();
  EXPECT_EQ(rig.services.heartbeat().percentage, 0u);  // nothing expected yet
  for (int i = 0; i < 10; ++i) beat(rig);
  HeartbeatStatus status = rig.services.heartbeat();
  EXPECT_EQ(status.percentage, 100u);
  EXPECT_TRUE(status.heartbeating);
  EXPECT_EQ(status.beats_answered, 10u);
  EXPECT_EQ(rig.guest.beats_answered, 10u);
}

TEST(Heartbeat, AgentThatStopsAnsweringFallsToZeroWithinAMinute) {
  TestRig rig;
  rig.connect();
  for (int i = 0; i < 10; ++i) beat(rig);
  rig.guest.behavior.answer_beats = false;
  for (int i = 0; i < 5; ++i) beat(rig);
  HeartbeatStatus half = rig.services.heartbeat();
  EXPECT_EQ(half.percentage, 50u);  // 5 answered, 5 missed in the last minute
  EXPECT_FALSE(half.heartbeating);
  for (int i = 0; i < 5; ++i) beat(rig);
  EXPECT_EQ(rig.services.heartbeat().percentage, 0u);
}

TEST(Heartbeat, OneMissedBeatInTenIs90Percent) {
  TestRig rig;
  rig.connect();
  for (int i = 0; i < 10; ++i) {
    rig.guest.behavior.answer_beats = (i != 4);
    beat(rig);
  }
  EXPECT_EQ(rig.services.heartbeat().percentage, 90u);
}

TEST(Heartbeat, ConfigurableInterval) {
  HostServicesOptions options;
  options.heartbeat_interval = milliseconds(1000);
  TestRig rig(options);
  rig.connect();
  for (int i = 0; i < 60; ++i) beat(rig, milliseconds(1000));
  EXPECT_EQ(rig.services.heartbeat().percentage, 100u);
  EXPECT_EQ(rig.services.counters().beats_sent, 60u);
}

TEST(Heartbeat, NoBeatsWithoutTheChannel) {
  TestRig rig;
  rig.guest.behavior.channels_to_open = {3};
  rig.connect();
  beat(rig);
  EXPECT_EQ(rig.services.counters().beats_sent, 0u);
  EXPECT_FALSE(rig.services.heartbeat().heartbeating);
}

TEST(Heartbeat, WrongAnswerIsCountedNotCredited) {
  TestRig rig;
  rig.guest.behavior.answer_beats = false;
  rig.connect();
  rig.services.heartbeat_tick();
  rig.pump(2);
  const auto& last = rig.guest.log.back();
  ASSERT_EQ(last.channel, kHeartbeatChannel);
  rig.guest.send(kHeartbeatChannel, make_header(kMsgBeat, kFlagResponse, last.header.transaction_id, 8),
                 encode_u64(12345));
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(rig.services.heartbeat().beats_answered, 0u);
  EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kUnexpectedMessage));
}

TEST(OsInfo, CachedFromGetResponseAndReplacedByChanged) {
  TestRig rig;
  rig.connect();
  auto info = rig.services.os_info();
  EXPECT_EQ(info["ComputerName"], "KVPC-GUEST");
  EXPECT_EQ(info["OSName"], "kvpc test OS");
  auto body = encode_key_values({{"ComputerName", "RENAMED"}});
  rig.guest.send(kOsInfoChannel, make_header(kMsgOsInfoChanged, kFlagNotification, 0, body.size()), body);
  rig.guest.doorbell();
  rig.pump(2);
  info = rig.services.os_info();
  EXPECT_EQ(info.size(), 1u);
  EXPECT_EQ(info["ComputerName"], "RENAMED");
}

TEST(OsInfo, ForgottenWhenTheLinkGoesDown) {
  TestRig rig;
  rig.connect();
  EXPECT_FALSE(rig.services.os_info().empty());
  rig.guest.reset_link();
  rig.pump(2);
  EXPECT_TRUE(rig.services.os_info().empty());
  EXPECT_FALSE(rig.services.sessions().has_value());
}

TEST(Sessions, AskedOnNegotiateAndUpdatedBySessionChanged) {
  TestRig rig;
  rig.connect();
  EXPECT_EQ(rig.services.sessions(), (std::vector<std::string>{"alice", "bob"}));
  auto body = encode_session_list({"carol"});
  rig.guest.send(kShutdownChannel, make_header(kMsgSessionChanged, kFlagNotification, 0, body.size()), body);
  rig.guest.doorbell();
  rig.pump(2);
  EXPECT_EQ(rig.services.sessions(), (std::vector<std::string>{"carol"}));
}

TEST(Sessions, NotAskedWithoutTheSessionListFeature) {
  TestRig rig;
  rig.guest.behavior.features = kFeatureLogoff | kFeatureShutdown;
  rig.connect();
  EXPECT_FALSE(rig.services.sessions().has_value());
}

TEST(TimeSync, SentOnNegotiateAndEveryTickWhileEnabled) {
  TestRig rig;
  rig.connect();
  ASSERT_EQ(rig.guest.times_received.size(), 1u);
  EXPECT_EQ(rig.guest.times_received[0], uint64_t{1700000000} * 1000000000);
  rig.services.time_sync_tick();
  rig.pump(2);
  EXPECT_EQ(rig.guest.times_received.size(), 2u);
  rig.services.set_time_sync_enabled(false);
  EXPECT_FALSE(rig.services.time_sync_enabled());
  rig.services.time_sync_tick();
  rig.pump(2);
  EXPECT_EQ(rig.guest.times_received.size(), 2u);
  rig.services.set_time_sync_enabled(true);  // re-enabling syncs at once
  rig.pump(2);
  EXPECT_EQ(rig.guest.times_received.size(), 3u);
}

TEST(TimeSync, DisabledFromTheStartSendsNothing) {
  HostServicesOptions options;
  options.time_sync_enabled = false;
  TestRig rig(options);
  rig.connect();
  EXPECT_TRUE(rig.services.channel_ready(kServiceTimeSync));
  EXPECT_TRUE(rig.guest.times_received.empty());
}

TEST(Agent, FeaturesAndPresenceFollowHello) {
  TestRig rig;
  EXPECT_FALSE(rig.services.agent_present());
  EXPECT_EQ(rig.services.agent_features(), 0u);
  rig.guest.behavior.features = kFeatureHeartbeat | kFeatureLogoff;
  rig.connect();
  EXPECT_TRUE(rig.services.agent_present());
  EXPECT_EQ(rig.services.agent_features(), kFeatureHeartbeat | kFeatureLogoff);
  EXPECT_EQ(rig.services.agent_name(), "fake-agent");
  EXPECT_FALSE(rig.services.channel_ready(99));
}

}  // namespace
}  // namespace kvpc::testing
