// IVMGuestOS::Logoff end to end at the host-services level: the fake guest agent answers
// through real rings in guest memory; the observer sees ack, progress and completion.
#include <gtest/gtest.h>

#include "tests/unit/integration/fake_guest.h"

namespace kvpc::testing {
namespace {

using Events = std::vector<std::string>;

TEST(Logoff, TwoSessionsAckProgressCompleteReachObserver) {
  TestRig rig;
  rig.connect();
  ASSERT_TRUE(rig.services.agent_present());
  ASSERT_TRUE(rig.services.channel_ready(proto::kServiceShutdown));
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events(),
            (Events{"ack 2", "progress 1/2 alice", "progress 2/2 bob", "complete 0x00000000"}));
  EXPECT_EQ(rig.services.counters().operations_completed, 1u);
  EXPECT_EQ(rig.guest.read_reg(proto::kRegErrorCount), 0u);
}

TEST(Logoff, NoSessionsCompletesWithNoSuchLogonSession) {
  TestRig rig;
  rig.guest.behavior.sessions = {};
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events(), (Events{"ack 0", "complete 0x80070520"}));
}

TEST(Logoff, AgentRejectsGoesToOnRejected) {
  TestRig rig;
  rig.guest.behavior.ack_status = E_ACCESSDENIED;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events(), (Events{"rejected 0x80070005"}));
  // The slot is free again.
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, std::make_shared<RecordingObserver>()), S_OK);
}

TEST(Logoff, SecondOperationOfSameKindIsBusyOtherKindIsNot) {
  TestRig rig;
  rig.guest.behavior.answer_operations = false;
  rig.connect();
  auto first = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, first), S_OK);
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, std::make_shared<RecordingObserver>()),
            E_BUSY);
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kShutdown, true, std::make_shared<RecordingObserver>()),
            S_OK);
  rig.pump();
  EXPECT_TRUE(first->events().empty());  // never answered: still in flight
}

TEST(Logoff, ChannelResetMidOperationEndsWithDispException) {
  TestRig rig;
  rig.guest.behavior.send_complete = false;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  rig.guest.reset_link();
  rig.pump();
  EXPECT_EQ(observer->events(),
            (Events{"ack 2", "progress 1/2 alice", "progress 2/2 bob", "complete 0x80020009"}));
  EXPECT_FALSE(rig.services.agent_present());
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), DISP_E_EXCEPTION);
}

TEST(Logoff, NewHelloMidOperationEndsWithDispException) {
  TestRig rig;
  rig.guest.behavior.answer_operations = false;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.guest.say_hello();  // the agent restarted
  rig.pump();
  EXPECT_EQ(observer->events(), (Events{"complete 0x80020009"}));
  EXPECT_TRUE(rig.services.agent_present());
}

TEST(Logoff, NewAttachMidOperationEndsWithDispException) {
  TestRig rig;
  rig.guest.behavior.answer_operations = false;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.guest.attach();
  rig.pump();
  EXPECT_EQ(observer->events(), (Events{"complete 0x80020009"}));
}

TEST(Logoff, ShutdownChannelClosedMidOperationEndsWithDispException) {
  TestRig rig;
  rig.guest.behavior.answer_operations = false;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.guest.send_request(proto::kControlChannel, proto::kMsgClose, proto::encode(proto::ChannelRef{3}));
  rig.guest.doorbell();
  rig.pump();
  EXPECT_EQ(observer->events(), (Events{"complete 0x80020009"}));
  EXPECT_FALSE(rig.services.channel_ready(proto::kServiceShutdown));
}

TEST(Logoff, StopEndsInFlightWithVmNotRunning) {
  TestRig rig;
  rig.guest.behavior.answer_operations = false;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.services.stop();
  rig.services.stop();  // twice is fine
  EXPECT_EQ(observer->events(), (Events{"complete 0xA0040206"}));
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), VM_E_VM_NOT_RUNNING);
}

TEST(Logoff, AbandonFreesTheSlotAndLateAnswersAreCounted) {
  TestRig rig;
  rig.guest.behavior.reply_delay_steps = 4;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.services.process();
  rig.guest.step();  // the request is received, the answer held back
  rig.services.abandon_operation(GuestOperation::kLogoff, VM_E_TIMED_OUT);
  EXPECT_EQ(observer->events(), (Events{"complete 0xA0040202"}));
  rig.pump();  // the slow answers arrive now: nothing matches them
  EXPECT_EQ(observer->events().size(), 1u);
  EXPECT_GE(rig.services.link_counters().errors[static_cast<size_t>(proto::LinkError::kUnexpectedMessage)], 1u);
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
}

TEST(Logoff, SlowAgentStillCompletes) {
  TestRig rig;
  rig.guest.behavior.reply_delay_steps = 3;
  rig.connect();
  rig.pump();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump(24);
  EXPECT_EQ(observer->events().back(), "complete 0x00000000");
}

TEST(Logoff, AgentWithoutLogoffFeatureIsFeatureNotAvailable) {
  TestRig rig;
  rig.guest.behavior.features = proto::kFeatureHeartbeat | proto::kFeatureShutdown;
  rig.connect();
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, std::make_shared<RecordingObserver>()),
            VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kShutdown, false, std::make_shared<RecordingObserver>()),
            S_OK);
}

TEST(Logoff, AgentThatDidNotOpenShutdownChannelIsFeatureNotAvailable) {
  TestRig rig;
  rig.guest.behavior.channels_to_open = {1, 2};
  rig.connect();
  EXPECT_FALSE(rig.services.channel_ready(proto::kServiceShutdown));
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, std::make_shared<RecordingObserver>()),
            VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST(Logoff, NoAgentIsDispException) {
  TestRig rig;
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, std::make_shared<RecordingObserver>()),
            DISP_E_EXCEPTION);
  rig.guest.attach();
  rig.pump();
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, std::make_shared<RecordingObserver>()),
            DISP_E_EXCEPTION);
  EXPECT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, nullptr), E_POINTER);
}

TEST(Logoff, LogoffRequestOnTheWireIsFlagsZeroShutdownForcedSetsBit) {
  TestRig rig;
  rig.guest.behavior.answer_operations = false;
  rig.connect();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, true, std::make_shared<RecordingObserver>()), S_OK);
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kShutdown, true, std::make_shared<RecordingObserver>()), S_OK);
  rig.pump();
  std::vector<uint32_t> flags;
  for (const auto& m : rig.guest.log) {
    if (m.channel == proto::kShutdownChannel && m.header.is_request() &&
        (m.header.type == proto::kMsgLogoff || m.header.type == proto::kMsgShutdown)) {
      flags.push_back(*proto::ByteReader(m.body).u32());
    }
  }
  EXPECT_EQ(flags, (std::vector<uint32_t>{0, proto::kShutdownFlagForced}));
}

// An observer that calls back into the services from on_complete must not deadlock.
class ReentrantObserver final : public GuestOperationObserver {
 public:
  explicit ReentrantObserver(GuestServices& services) : services_(services) {}
  void on_acknowledged(uint32_t) override {}
  void on_rejected(HRESULT) override {}
  void on_progress(uint32_t, uint32_t, const std::string&) override {}
  void on_complete(HRESULT) override {
    sessions_seen = services_.sessions().has_value();
    restarted = services_.begin_operation(GuestOperation::kLogoff, false, std::make_shared<RecordingObserver>());
  }
  bool sessions_seen = false;
  HRESULT restarted = E_FAIL;

 private:
  GuestServices& services_;
};

TEST(Logoff, ObserverMayCallBackIntoServices) {
  TestRig rig;
  rig.connect();
  auto observer = std::make_shared<ReentrantObserver>(rig.services);
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_TRUE(observer->sessions_seen);
  EXPECT_EQ(observer->restarted, S_OK);
}

}  // namespace
}  // namespace kvpc::testing
