// IVMGuestOS::Shutdown and Restart: the same rows as Logoff with their own feature bits, the
// forced flag, their task errors (ERROR_NOT_READY, ERROR_SHUTDOWN_IN_PROGRESS,
// ERROR_MACHINE_LOCKED) and their own deadlines. Parameterized over the two operations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/integration/api_test_doubles.h"

namespace kvpc {
namespace {

using ::testing::_;
using ::testing::Return;
using ::testing::StrictMock;
using testing::ApiRig;

struct PowerOperation {
  const char* name;
  GuestOperation operation;
  uint32_t feature;
  std::chrono::milliseconds default_deadline;
};

const PowerOperation kOperations[] = {
    {"Shutdown", GuestOperation::kShutdown, kFeatureShutdown, kDefaultShutdownDeadline},
    {"Restart", GuestOperation::kRestart, kFeatureRestart, kDefaultRestartDeadline},
};

class ApiPowerOperation : public ::testing::TestWithParam<PowerOperation> {
 protected:
  HRESULT call(bool forced, std::shared_ptr<IVMTask>* out) {
    return GetParam().operation == GuestOperation::kShutdown ? guest->Shutdown(forced, out)
                                                             : guest->Restart(forced, out);
  }
  HRESULT call_with(const OperationTimeouts& timeouts, std::shared_ptr<IVMTask>* out) {
    return GetParam().operation == GuestOperation::kShutdown
               ? guest->ShutdownWithTimeouts(false, timeouts, out)
               : guest->RestartWithTimeouts(false, timeouts, out);
  }
  long error_of(IVMTask& t) {
    long error = 0;
    EXPECT_EQ(t.get_Error(&error), S_OK);
    return error;
  }

  ApiRig rig;
  std::shared_ptr<IVMGuestOS> guest = rig.guest_os();
  std::shared_ptr<IVMTask> task;
};

TEST_P(ApiPowerOperation, AcceptedRequestIsSOkWithATaskAndPassesTheForcedFlag) {
  EXPECT_CALL(*rig.services, begin_operation(GetParam().operation, true, _));
  ASSERT_EQ(call(true, &task), S_OK);
  ASSERT_NE(task, nullptr);
  std::string description;
  task->get_Description(&description);
  EXPECT_THAT(description, ::testing::HasSubstr("(forced)"));
}

TEST_P(ApiPowerOperation, NullOutPointerIsEPointer) {
  EXPECT_EQ(call(false, nullptr), E_POINTER);
}

TEST_P(ApiPowerOperation, RevokedCallerIsAccessDenied) {
  ON_CALL(*rig.host, owner_uid()).WillByDefault(Return(4242));
  EXPECT_EQ(call(false, &task), E_ACCESSDENIED);
  EXPECT_EQ(rig.audit_lines.size(), 1u);
}

TEST_P(ApiPowerOperation, UnknownVmIsVmUnknown) {
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  EXPECT_EQ(call(false, &task), VM_E_VM_UNKNOWN);
}

TEST_P(ApiPowerOperation, EveryStateButRunningIsVmNotRunning) {
  for (VMVMState state : testing::kEveryStateButRunning) {
    ON_CALL(*rig.host, state()).WillByDefault(Return(state));
    EXPECT_EQ(call(false, &task), VM_E_VM_NOT_RUNNING) << testing::state_name(state);
  }
  EXPECT_EQ(rig.begin_calls, 0);
}

TEST_P(ApiPowerOperation, NoAgentIsFeatureNotAvailable) {
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(false));
  EXPECT_EQ(call(false, &task), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST_P(ApiPowerOperation, AgentWithoutItsFeatureBitIsFeatureNotAvailable) {
  ON_CALL(*rig.services, agent_features()).WillByDefault(Return(testing::kAllFeatures & ~GetParam().feature));
  EXPECT_EQ(call(false, &task), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST_P(ApiPowerOperation, ShutdownChannelNotReadyIsFeatureNotAvailable) {
  ON_CALL(*rig.services, channel_ready(3)).WillByDefault(Return(false));
  EXPECT_EQ(call(false, &task), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST_P(ApiPowerOperation, NoAcknowledgmentIsTimedOut) {
  rig.guest_acknowledges = false;
  EXPECT_EQ(call(false, &task), VM_E_TIMED_OUT);
  EXPECT_EQ(rig.clock->elapsed(), kDefaultAckWindow);
}

TEST_P(ApiPowerOperation, BeginOperationFailureIsDispException) {
  rig.begin_result = DISP_E_EXCEPTION;
  EXPECT_EQ(call(false, &task), DISP_E_EXCEPTION);
}

TEST_P(ApiPowerOperation, GuestErrorsBecomeTheTaskError) {
  for (HRESULT guest_error : {E_NOT_READY, E_SHUTDOWN_IN_PROGRESS, E_MACHINE_LOCKED, E_ACCESSDENIED}) {
    ASSERT_EQ(call(false, &task), S_OK);
    rig.observer->on_complete(guest_error);
    VMTaskResult result = vmTaskResult_Success;
    task->get_Result(&result);
    EXPECT_EQ(result, vmTaskResult_UnexpectedError);
    EXPECT_EQ(error_of(*task), guest_error) << describe_hresult(guest_error);
  }
}

TEST_P(ApiPowerOperation, SuccessIsSuccess) {
  ASSERT_EQ(call(false, &task), S_OK);
  rig.observer->on_complete(S_OK);
  VMTaskResult result = vmTaskResult_UnexpectedError;
  task->get_Result(&result);
  EXPECT_EQ(result, vmTaskResult_Success);
}

TEST_P(ApiPowerOperation, DefaultDeadlineEndsTheTaskWithTimedOut) {
  ASSERT_EQ(call(false, &task), S_OK);
  ASSERT_EQ(rig.timers.size(), 1u);
  EXPECT_EQ(rig.timers[0].first, GetParam().default_deadline);
  rig.clock->advance(GetParam().default_deadline);
  EXPECT_EQ(error_of(*task), VM_E_TIMED_OUT);
}

TEST_P(ApiPowerOperation, PerCallDeadline) {
  ASSERT_EQ(call_with({.deadline = std::chrono::seconds(3)}, &task), S_OK);
  rig.clock->advance(std::chrono::seconds(3));
  EXPECT_EQ(error_of(*task), VM_E_TIMED_OUT);
}

TEST_P(ApiPowerOperation, SecondCallWhileInFlightReturnsTheSameTask) {
  ASSERT_EQ(call(false, &task), S_OK);
  std::shared_ptr<IVMTask> again;
  ASSERT_EQ(call(true, &again), S_OK);  // even forced: see docs/api.md
  EXPECT_EQ(again, task);
  EXPECT_EQ(rig.begin_calls, 1);
}

TEST_P(ApiPowerOperation, NeverRaisesOnGuestLogoff) {
  auto sink = std::make_shared<StrictMock<testing::MockEventSink>>();
  auto vm = rig.open_vm();
  ASSERT_EQ(vm->Subscribe(sink), S_OK);
  ASSERT_EQ(call(false, &task), S_OK);
  rig.observer->on_complete(S_OK);
}

INSTANTIATE_TEST_SUITE_P(ApiShutdownAndRestart, ApiPowerOperation, ::testing::ValuesIn(kOperations),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ApiShutdown, VmTurningOffAfterTheAcknowledgmentIsSuccess) {
  ApiRig rig;
  auto guest = rig.guest_os();
  std::shared_ptr<IVMTask> task;
  ASSERT_EQ(guest->Shutdown(false, &task), S_OK);
  rig.observer->on_complete(VM_E_VM_NOT_RUNNING);  // GuestServices: "the VM stopped"
  long error = 1;
  task->get_Error(&error);
  EXPECT_EQ(error, S_OK);
}

TEST(ApiRestart, VmStoppingAfterTheAcknowledgmentIsAnError) {
  ApiRig rig;
  auto guest = rig.guest_os();
  std::shared_ptr<IVMTask> task;
  ASSERT_EQ(guest->Restart(false, &task), S_OK);
  rig.observer->on_complete(VM_E_VM_NOT_RUNNING);  // a restart must not end with the VM off
  long error = 0;
  task->get_Error(&error);
  EXPECT_EQ(error, VM_E_VM_NOT_RUNNING);
}

TEST(ApiPowerOperations, ShutdownAndLogoffHaveSeparateInFlightSlots) {
  ApiRig rig;
  auto guest = rig.guest_os();
  std::shared_ptr<IVMTask> logoff;
  std::shared_ptr<IVMTask> shutdown;
  ASSERT_EQ(guest->Logoff(&logoff), S_OK);
  ASSERT_EQ(guest->Shutdown(false, &shutdown), S_OK);
  EXPECT_NE(logoff, shutdown);
  EXPECT_EQ(rig.begin_calls, 2);
}

}  // namespace
}  // namespace kvpc
