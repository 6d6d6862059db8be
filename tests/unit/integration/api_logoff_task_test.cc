// What the task of a Logoff says once the guest got the request: each outcome of CONTRACT.md,
// the deadline, the in-flight rule and the OnGuestLogoff(vmLogoff_External) event.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/integration/api_test_doubles.h"

namespace kvpc {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::StrictMock;
using testing::ApiRig;

// Everything IVMTask says, read in one go.
struct TaskView {
  bool complete = false;
  long percent = -1;
  VMTaskResult result = vmTaskResult_Cancelled;
  long error = 1;
  std::string error_description;
};

TaskView view(IVMTask& task) {
  TaskView v;
  EXPECT_EQ(task.get_IsComplete(&v.complete), S_OK);
  EXPECT_EQ(task.get_PercentCompleted(&v.percent), S_OK);
  EXPECT_EQ(task.get_Result(&v.result), S_OK);
  EXPECT_EQ(task.get_Error(&v.error), S_OK);
  EXPECT_EQ(task.get_ErrorDescription(&v.error_description), S_OK);
  return v;
}

class ApiLogoffTask : public ::testing::Test {
 protected:
  void SetUp() override {
    vm = rig.open_vm();
    ASSERT_EQ(vm->get_GuestOS(&guest), S_OK);
    ASSERT_EQ(vm->Subscribe(sink), S_OK);
  }

  // Starts a Logoff the guest acknowledged with 2 sessions.
  std::shared_ptr<IVMTask> start_logoff() {
    std::shared_ptr<IVMTask> task;
    EXPECT_EQ(guest->Logoff(&task), S_OK);
    EXPECT_NE(rig.observer, nullptr);
    return task;
  }

  ApiRig rig;
  std::shared_ptr<VMVirtualMachine> vm;
  std::shared_ptr<IVMGuestOS> guest;
  std::shared_ptr<StrictMock<testing::MockEventSink>> sink =
      std::make_shared<StrictMock<testing::MockEventSink>>();
};

TEST_F(ApiLogoffTask, SuccessMovesProgressFromZeroThroughFiftyToHundred) {
  EXPECT_CALL(*sink, OnGuestLogoff(vmLogoff_External)).WillOnce(Return(S_OK));
  auto task = start_logoff();
  EXPECT_EQ(view(*task).percent, 0);
  rig.observer->on_progress(1, 2, "alice");
  EXPECT_EQ(view(*task).percent, 50);
  EXPECT_FALSE(view(*task).complete);
  rig.observer->on_progress(2, 2, "bob");
  EXPECT_EQ(view(*task).percent, 100);
  rig.observer->on_complete(S_OK);

  const TaskView done = view(*task);
  EXPECT_TRUE(done.complete);
  EXPECT_EQ(done.percent, 100);
  EXPECT_EQ(done.result, vmTaskResult_Success);
  EXPECT_EQ(done.error, S_OK);
  EXPECT_EQ(done.error_description, "");
}

TEST_F(ApiLogoffTask, NobodyLoggedOnEndsWithNoSuchLogonSession) {
  auto task = start_logoff();
  rig.observer->on_complete(E_NO_SUCH_LOGON_SESSION);
  const TaskView done = view(*task);
  EXPECT_TRUE(done.complete);
  EXPECT_EQ(done.result, vmTaskResult_UnexpectedError);
  EXPECT_EQ(done.error, hr(0x80070520));
  EXPECT_THAT(done.error_description, HasSubstr("0x80070520"));
}

TEST_F(ApiLogoffTask, GuestFailureEndsWithTheGuestsHresult) {
  auto task = start_logoff();
  rig.observer->on_progress(1, 2, "alice");
  rig.observer->on_complete(E_ACCESSDENIED);
  const TaskView done = view(*task);
  EXPECT_EQ(done.result, vmTaskResult_UnexpectedError);
  EXPECT_EQ(done.error, E_ACCESSDENIED);
  EXPECT_EQ(done.percent, 50);  // what was done stays visible
  EXPECT_THAT(done.error_description, HasSubstr("0x80070005"));
}

TEST_F(ApiLogoffTask, UnknownGuestHresultIsPassedThrough) {
  auto task = start_logoff();
  rig.observer->on_complete(hr(0x80071234));
  const TaskView done = view(*task);
  EXPECT_EQ(done.error, hr(0x80071234));
  EXPECT_THAT(done.error_description, HasSubstr("0x80071234"));
}

TEST_F(ApiLogoffTask, GuestRefusalInTheAcknowledgmentBecomesTheTaskOutcome) {
  ON_CALL(*rig.services, begin_operation(_, _, _))
      .WillByDefault([](GuestOperation, bool, std::shared_ptr<GuestOperationObserver> o) {
        o->on_rejected(E_NO_SUCH_LOGON_SESSION);
        return S_OK;
      });
  std::shared_ptr<IVMTask> task;
  ASSERT_EQ(guest->Logoff(&task), S_OK);
  const TaskView done = view(*task);
  EXPECT_TRUE(done.complete);
  EXPECT_EQ(done.result, vmTaskResult_UnexpectedError);
  EXPECT_EQ(done.error, E_NO_SUCH_LOGON_SESSION);
}

TEST_F(ApiLogoffTask, DeadlineEndsTheTaskWithTimedOut) {
  auto task = start_logoff();
  rig.clock->advance(kDefaultLogoffDeadline - std::chrono::milliseconds(1));
  EXPECT_FALSE(view(*task).complete);
  rig.clock->advance(std::chrono::milliseconds(1));
  const TaskView done = view(*task);
  EXPECT_TRUE(done.complete);
  EXPECT_EQ(done.result, vmTaskResult_TimeOutError);
  EXPECT_EQ(done.error, VM_E_TIMED_OUT);
  EXPECT_THAT(done.error_description, HasSubstr("60000 ms"));
  EXPECT_THAT(done.error_description, HasSubstr("VM_E_TIMED_OUT"));
}

TEST_F(ApiLogoffTask, CompletionAfterTheDeadlineIsIgnored) {
  auto task = start_logoff();
  rig.clock->advance(kDefaultLogoffDeadline);
  rig.observer->on_complete(S_OK);  // too late: no event (StrictMock), outcome unchanged
  EXPECT_EQ(view(*task).error, VM_E_TIMED_OUT);
}

TEST_F(ApiLogoffTask, DeadlineTimerEndsATaskNobodyLooksAt) {
  bool finished = false;
  auto task = std::make_shared<GuestOperationTask>(GuestOperationTask::Setup{
      .operation = GuestOperation::kLogoff,
      .vm_name = "vm1",
      .clock = rig.clock,
      .deadline = std::chrono::milliseconds(500),
      .on_finished = [&](HRESULT error) { finished = error == VM_E_TIMED_OUT; }});
  task->on_acknowledged(1);
  rig.clock->advance(std::chrono::milliseconds(500));
  EXPECT_FALSE(finished);  // nobody looked yet
  task->check_deadline();   // what the VM's timer does
  EXPECT_TRUE(finished);
}

TEST_F(ApiLogoffTask, LogoffSchedulesTheDeadlineOnTheVmTimer) {
  auto task = start_logoff();
  ASSERT_EQ(rig.timers.size(), 1u);
  EXPECT_EQ(rig.timers[0].first, kDefaultLogoffDeadline);
  auto concrete = std::dynamic_pointer_cast<GuestOperationTask>(task);
  ASSERT_NE(concrete, nullptr);
  rig.clock->advance(kDefaultLogoffDeadline);
  EXPECT_FALSE(concrete->has_ended());  // has_ended() itself never expires a task
  rig.fire_timers();
  EXPECT_TRUE(concrete->has_ended());
  EXPECT_EQ(concrete->error(), VM_E_TIMED_OUT);
}

TEST_F(ApiLogoffTask, DeadlineIsConfigurablePerCall) {
  std::shared_ptr<IVMTask> task;
  ASSERT_EQ(guest->LogoffWithTimeouts({.deadline = std::chrono::seconds(5)}, &task), S_OK);
  rig.clock->advance(std::chrono::seconds(5));
  EXPECT_EQ(view(*task).result, vmTaskResult_TimeOutError);
}

TEST_F(ApiLogoffTask, ChannelBrokenAfterAcknowledgmentIsDispExceptionUnexpectedError) {
  auto task = start_logoff();
  rig.observer->on_complete(DISP_E_EXCEPTION);
  const TaskView done = view(*task);
  EXPECT_EQ(done.result, vmTaskResult_UnexpectedError);
  EXPECT_EQ(done.error, DISP_E_EXCEPTION);
}

TEST_F(ApiLogoffTask, SecondLogoffWhileOneIsInFlightReturnsTheInFlightTask) {
  auto first = start_logoff();
  std::shared_ptr<IVMTask> second;
  ASSERT_EQ(guest->Logoff(&second), S_OK);
  EXPECT_EQ(second, first);
  EXPECT_EQ(rig.begin_calls, 1);

  // Through another caller's objects too: the slot is per VM.
  std::shared_ptr<IVMTask> third;
  ASSERT_EQ(rig.guest_os()->Logoff(&third), S_OK);
  EXPECT_EQ(third, first);
  EXPECT_EQ(rig.begin_calls, 1);
}

TEST_F(ApiLogoffTask, LogoffAfterTheInFlightOneEndedStartsANewOne) {
  EXPECT_CALL(*sink, OnGuestLogoff(vmLogoff_External)).WillOnce(Return(S_OK));
  auto first = start_logoff();
  rig.observer->on_complete(S_OK);
  auto second = start_logoff();
  EXPECT_NE(second, first);
  EXPECT_EQ(rig.begin_calls, 2);
}

TEST_F(ApiLogoffTask, InFlightTaskPastItsDeadlineIsNotHandedOutAgain) {
  auto first = start_logoff();
  rig.clock->advance(kDefaultLogoffDeadline);
  auto second = start_logoff();
  EXPECT_NE(second, first);
  EXPECT_EQ(view(*first).error, VM_E_TIMED_OUT);
}

TEST_F(ApiLogoffTask, OnGuestLogoffExternalIsRaisedExactlyOnce) {
  EXPECT_CALL(*sink, OnGuestLogoff(vmLogoff_External)).Times(1).WillOnce(Return(S_OK));
  auto task = start_logoff();
  rig.observer->on_complete(S_OK);
  rig.observer->on_complete(S_OK);  // a duplicate completion changes nothing
  task->WaitForCompletion(0);
  bool complete = false;
  task->get_IsComplete(&complete);
  EXPECT_TRUE(complete);
}

TEST_F(ApiLogoffTask, NoEventWhenTheLogoffFails) {
  auto task = start_logoff();  // StrictMock: any event would fail the test
  rig.observer->on_complete(E_NO_SUCH_LOGON_SESSION);
  EXPECT_TRUE(view(*task).complete);
}

TEST_F(ApiLogoffTask, UnsubscribedSinkGetsNoEvent) {
  ASSERT_EQ(vm->Unsubscribe(sink), S_OK);
  auto task = start_logoff();
  rig.observer->on_complete(S_OK);
  EXPECT_EQ(view(*task).result, vmTaskResult_Success);
}

TEST_F(ApiLogoffTask, TaskDescribesItselfAndHasAUniqueId) {
  auto task = start_logoff();
  std::string description;
  ASSERT_EQ(task->get_Description(&description), S_OK);
  EXPECT_THAT(description, HasSubstr("Log off all users"));
  EXPECT_THAT(description, HasSubstr("vm1"));

  long number = 0;
  std::string text;
  ASSERT_EQ(task->get_ID(&number), S_OK);
  ASSERT_EQ(task->get_ID(&text), S_OK);
  EXPECT_GT(number, 0);
  EXPECT_EQ(text, "vm1/" + std::to_string(number));

  EXPECT_CALL(*sink, OnGuestLogoff(vmLogoff_External)).WillOnce(Return(S_OK));
  rig.observer->on_complete(S_OK);
  auto next = start_logoff();
  long next_number = 0;
  ASSERT_EQ(next->get_ID(&next_number), S_OK);
  EXPECT_GT(next_number, number);
}

}  // namespace
}  // namespace kvpc
