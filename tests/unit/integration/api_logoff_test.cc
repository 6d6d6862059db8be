// IVMGuestOS::Logoff, one test per row of CONTRACT.md's table, in the table's order, then the
// order in which the checks apply when several rows are true at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/integration/api_test_doubles.h"

namespace kvpc {
namespace {

using ::testing::_;
using ::testing::Return;
using testing::ApiRig;

class ApiLogoff : public ::testing::Test {
 protected:
  ApiRig rig;
  std::shared_ptr<IVMGuestOS> guest = rig.guest_os();
  std::shared_ptr<IVMTask> task;
};

TEST_F(ApiLogoff, AcceptedRequestReturnsSOkAndARunningTask) {
  ASSERT_EQ(guest->Logoff(&task), S_OK);
  ASSERT_NE(task, nullptr);
  bool complete = true;
  EXPECT_EQ(task->get_IsComplete(&complete), S_OK);
  EXPECT_FALSE(complete);
  EXPECT_EQ(rig.begin_calls, 1);
}

TEST_F(ApiLogoff, NullOutPointerIsEPointer) {
  EXPECT_EQ(guest->Logoff(nullptr), E_POINTER);
  EXPECT_EQ(rig.begin_calls, 0);
}

TEST_F(ApiLogoff, CallerWithoutAccessIsAccessDeniedAndAudited) {
  // The stranger got its IVMGuestOS while granted; the owner then revoked the grant.
  ON_CALL(*rig.host, granted_uids()).WillByDefault(Return(std::vector<uint32_t>{2000}));
  auto stranger_guest = rig.guest_os(ApiRig::stranger());
  ON_CALL(*rig.host, granted_uids()).WillByDefault(Return(std::vector<uint32_t>{}));

  EXPECT_EQ(stranger_guest->Logoff(&task), E_ACCESSDENIED);
  EXPECT_EQ(task, nullptr);
  EXPECT_EQ(rig.begin_calls, 0);
  ASSERT_EQ(rig.audit_lines.size(), 1u);
  EXPECT_THAT(rig.audit_lines[0], ::testing::HasSubstr("uid=2000"));
  EXPECT_THAT(rig.audit_lines[0], ::testing::HasSubstr("IVMGuestOS::Logoff"));
  EXPECT_THAT(rig.audit_lines[0], ::testing::HasSubstr("0x80070005"));
}

TEST_F(ApiLogoff, UnknownVmIsVmUnknown) {
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  EXPECT_EQ(guest->Logoff(&task), VM_E_VM_UNKNOWN);
  EXPECT_EQ(task, nullptr);
}

class ApiLogoffNotRunning : public ApiLogoff, public ::testing::WithParamInterface<VMVMState> {};

TEST_P(ApiLogoffNotRunning, EveryStateButRunningIsVmNotRunning) {
  ON_CALL(*rig.host, state()).WillByDefault(Return(GetParam()));
  EXPECT_EQ(guest->Logoff(&task), VM_E_VM_NOT_RUNNING);
  EXPECT_EQ(task, nullptr);
  EXPECT_EQ(rig.begin_calls, 0);
}

INSTANTIATE_TEST_SUITE_P(ApiEveryOtherState, ApiLogoffNotRunning,
                         ::testing::ValuesIn(testing::kEveryStateButRunning),
                         [](const auto& param_info) { return testing::state_name(param_info.param); });

TEST_F(ApiLogoff, PausedVmIsVmNotRunningNotVmPaused) {
  // CONTRACT lists "paused" under VM_E_VM_NOT_RUNNING for Logoff.
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_Paused));
  EXPECT_EQ(guest->Logoff(&task), VM_E_VM_NOT_RUNNING);
}

TEST_F(ApiLogoff, NoAgentIsFeatureNotAvailable) {
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(false));
  EXPECT_EQ(guest->Logoff(&task), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  EXPECT_EQ(rig.begin_calls, 0);
}

TEST_F(ApiLogoff, AgentWithoutLogoffFeatureIsFeatureNotAvailable) {
  ON_CALL(*rig.services, agent_features())
      .WillByDefault(Return(testing::kAllFeatures & ~uint32_t{kFeatureLogoff}));
  EXPECT_EQ(guest->Logoff(&task), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  EXPECT_EQ(rig.begin_calls, 0);
}

TEST_F(ApiLogoff, ShutdownChannelNotReadyIsFeatureNotAvailable) {
  ON_CALL(*rig.services, channel_ready(3)).WillByDefault(Return(false));
  EXPECT_EQ(guest->Logoff(&task), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  EXPECT_EQ(rig.begin_calls, 0);
}

TEST_F(ApiLogoff, NoAcknowledgmentWithinTheWindowIsTimedOut) {
  rig.guest_acknowledges = false;
  EXPECT_EQ(guest->Logoff(&task), VM_E_TIMED_OUT);
  EXPECT_EQ(task, nullptr);
  // It waited exactly the default window, on the VM's clock.
  EXPECT_EQ(rig.clock->elapsed(), kDefaultAckWindow);
}

TEST_F(ApiLogoff, LateAcknowledgmentAfterTimeoutIsIgnored) {
  rig.guest_acknowledges = false;
  ASSERT_EQ(guest->Logoff(&task), VM_E_TIMED_OUT);
  rig.observer->on_acknowledged(1);
  rig.observer->on_complete(S_OK);  // no event, no crash: nobody holds a task for it
  SUCCEED();
}

TEST_F(ApiLogoff, AcknowledgmentWindowIsConfigurablePerCallAndPerVm) {
  rig.guest_acknowledges = false;
  EXPECT_EQ(guest->LogoffWithTimeouts({.ack_window = std::chrono::milliseconds(250)}, &task),
            VM_E_TIMED_OUT);
  EXPECT_EQ(rig.clock->elapsed(), std::chrono::milliseconds(250));

  ASSERT_EQ(rig.state->set_default_timeouts(GuestOperation::kLogoff, std::chrono::milliseconds(700),
                                            std::chrono::seconds(60)),
            S_OK);
  // The first task ended (timed out), so this call sends a new request.
  EXPECT_EQ(guest->Logoff(&task), VM_E_TIMED_OUT);
  EXPECT_EQ(rig.clock->elapsed(), std::chrono::milliseconds(250 + 700));
}

TEST_F(ApiLogoff, InvalidPerCallTimeoutsAreInvalidArg) {
  EXPECT_EQ(guest->LogoffWithTimeouts({.ack_window = std::chrono::milliseconds(0)}, &task),
            E_INVALIDARG);
  EXPECT_EQ(guest->LogoffWithTimeouts({.deadline = std::chrono::hours(25)}, &task), E_INVALIDARG);
  EXPECT_EQ(rig.begin_calls, 0);
}

TEST_F(ApiLogoff, BeginOperationFailureIsDispException) {
  rig.begin_result = DISP_E_EXCEPTION;
  EXPECT_EQ(guest->Logoff(&task), DISP_E_EXCEPTION);
  EXPECT_EQ(task, nullptr);
}

TEST_F(ApiLogoff, BeginOperationBusyWithNoTaskOfOursIsTimedOut) {
  // The guest still works on an earlier request whose task already ended (e.g. timed out).
  rig.begin_result = E_BUSY;
  EXPECT_EQ(guest->Logoff(&task), VM_E_TIMED_OUT);
  EXPECT_EQ(task, nullptr);
}

TEST_F(ApiLogoff, ChannelBrokenBeforeAcknowledgmentIsDispException) {
  rig.guest_acknowledges = false;
  ON_CALL(*rig.services, begin_operation(_, _, _))
      .WillByDefault([](GuestOperation, bool, std::shared_ptr<GuestOperationObserver> o) {
        o->on_complete(DISP_E_EXCEPTION);
        return S_OK;
      });
  EXPECT_EQ(guest->Logoff(&task), DISP_E_EXCEPTION);
  EXPECT_EQ(task, nullptr);
}

TEST_F(ApiLogoff, OnTheEventLoopThreadIsDispExceptionInsteadOfAHang) {
  ON_CALL(*rig.host, on_event_loop_thread()).WillByDefault(Return(true));
  EXPECT_EQ(guest->Logoff(&task), DISP_E_EXCEPTION);
  EXPECT_EQ(rig.begin_calls, 0);
}

// --- Order of the checks -----------------------------------------------------------------------

TEST_F(ApiLogoff, NullPointerWinsOverAccessDenied) {
  ON_CALL(*rig.host, owner_uid()).WillByDefault(Return(4242));
  EXPECT_EQ(guest->Logoff(nullptr), E_POINTER);
  EXPECT_TRUE(rig.audit_lines.empty());
}

TEST_F(ApiLogoff, AccessDeniedWinsOverUnknownVm) {
  ON_CALL(*rig.host, owner_uid()).WillByDefault(Return(4242));
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  EXPECT_EQ(guest->Logoff(&task), E_ACCESSDENIED);
}

TEST_F(ApiLogoff, UnknownVmWinsOverNotRunning) {
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_TurnedOff));
  EXPECT_EQ(guest->Logoff(&task), VM_E_VM_UNKNOWN);
}

TEST_F(ApiLogoff, NotRunningWinsOverMissingFeature) {
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_TurnedOff));
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(false));
  EXPECT_EQ(guest->Logoff(&task), VM_E_VM_NOT_RUNNING);
}

TEST_F(ApiLogoff, MissingFeatureWinsOverBeginFailure) {
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(false));
  rig.begin_result = DISP_E_EXCEPTION;
  EXPECT_EQ(guest->Logoff(&task), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

}  // namespace
}  // namespace kvpc
