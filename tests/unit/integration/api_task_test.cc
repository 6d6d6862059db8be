// IVMTask as GuestOperationTask implements it: WaitForCompletion's arguments and timing (on the
// hand-driven clock), Cancel, NULL out pointers, and one thread waiting while another completes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <thread>

#include "tests/unit/integration/api_test_doubles.h"
#include "integration/api/guest_operation_task.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::ManualClock;

class ApiTask : public ::testing::Test {
 protected:
  std::shared_ptr<GuestOperationTask> make_task(std::shared_ptr<ApiClock> with_clock,
                                                std::chrono::milliseconds deadline = 60s) {
    return std::make_shared<GuestOperationTask>(GuestOperationTask::Setup{
        .operation = GuestOperation::kLogoff,
        .vm_name = "vm1",
        .clock = std::move(with_clock),
        .deadline = deadline,
        .on_finished = [this](HRESULT error) {
          ++finished_calls;
          last_error = error;
        }});
  }

  bool is_complete(IVMTask& any) {
    bool complete = false;
    EXPECT_EQ(any.get_IsComplete(&complete), S_OK);
    return complete;
  }

  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<GuestOperationTask> task = make_task(clock);
  int finished_calls = 0;
  HRESULT last_error = S_OK;
};

TEST_F(ApiTask, WaitForCompletionRejectsTimeoutsOutsideTheRange) {
  task->on_acknowledged(1);
  EXPECT_EQ(task->WaitForCompletion(-2), E_INVALIDARG);
  EXPECT_EQ(task->WaitForCompletion(kWaitMaxMs + 1), E_INVALIDARG);
  EXPECT_EQ(task->WaitForCompletion(LONG_MIN), E_INVALIDARG);
  EXPECT_EQ(clock->elapsed(), 0ms);  // a rejected call does not wait
}

TEST_F(ApiTask, WaitForCompletionAcceptsZeroMaxAndInfinite) {
  task->on_acknowledged(1);
  EXPECT_EQ(task->WaitForCompletion(0), S_OK);
  EXPECT_EQ(clock->elapsed(), 0ms);
  EXPECT_EQ(task->WaitForCompletion(kWaitMaxMs), S_OK);  // bounded by the 60 s deadline
  EXPECT_EQ(task->WaitForCompletion(kWaitInfinite), S_OK);
}

TEST_F(ApiTask, WaitForCompletionReturnsSOkWhenTheTimeoutPassesFirst) {
  task->on_acknowledged(1);
  EXPECT_EQ(task->WaitForCompletion(1500), S_OK);
  EXPECT_EQ(clock->elapsed(), 1500ms);
  EXPECT_FALSE(is_complete(*task));  // S_OK is not "complete": the SDK says check IsComplete
}

TEST_F(ApiTask, WaitForCompletionReturnsAtOnceForACompleteTask) {
  task->on_acknowledged(1);
  task->on_complete(S_OK);
  EXPECT_EQ(task->WaitForCompletion(kWaitInfinite), S_OK);
  EXPECT_EQ(clock->elapsed(), 0ms);
}

TEST_F(ApiTask, InfiniteWaitEndsAtTheTaskDeadlineWithTimedOut) {
  task->on_acknowledged(1);
  EXPECT_EQ(task->WaitForCompletion(kWaitInfinite), S_OK);
  EXPECT_EQ(clock->elapsed(), 60s);
  EXPECT_TRUE(is_complete(*task));
  VMTaskResult result = vmTaskResult_Success;
  long error = 0;
  task->get_Result(&result);
  task->get_Error(&error);
  EXPECT_EQ(result, vmTaskResult_TimeOutError);
  EXPECT_EQ(error, VM_E_TIMED_OUT);
  EXPECT_EQ(finished_calls, 1);
  EXPECT_EQ(last_error, VM_E_TIMED_OUT);
}

TEST_F(ApiTask, WaitLongerThanTheDeadlineStopsAtTheDeadline) {
  task->on_acknowledged(1);
  EXPECT_EQ(task->WaitForCompletion(kWaitMaxMs), S_OK);
  EXPECT_EQ(clock->elapsed(), 60s);
  EXPECT_TRUE(is_complete(*task));
}

TEST_F(ApiTask, CancelIsEFailAndLeavesTheTaskRunning) {
  // Before the acknowledgment: E_FAIL, and the request goes on.
  EXPECT_EQ(task->Cancel(), E_FAIL);
  task->on_acknowledged(1);
  EXPECT_FALSE(is_complete(*task));
  // After it (CONTRACT Decision).
  EXPECT_EQ(task->Cancel(), E_FAIL);
  EXPECT_FALSE(is_complete(*task));
  task->on_complete(S_OK);
  VMTaskResult result = vmTaskResult_Cancelled;
  task->get_Result(&result);
  EXPECT_EQ(result, vmTaskResult_Success);
  // And once complete.
  EXPECT_EQ(task->Cancel(), E_FAIL);
}

TEST_F(ApiTask, IsCancelableIsAlwaysFalse) {
  bool cancelable = true;
  EXPECT_EQ(task->get_IsCancelable(&cancelable), S_OK);
  EXPECT_FALSE(cancelable);
  task->on_acknowledged(1);
  cancelable = true;
  EXPECT_EQ(task->get_IsCancelable(&cancelable), S_OK);
  EXPECT_FALSE(cancelable);
}

TEST_F(ApiTask, EveryNullOutPointerIsEPointer) {
  EXPECT_EQ(task->get_PercentCompleted(nullptr), E_POINTER);
  EXPECT_EQ(task->get_Description(nullptr), E_POINTER);
  EXPECT_EQ(task->get_Result(nullptr), E_POINTER);
  EXPECT_EQ(task->get_IsCancelable(nullptr), E_POINTER);
  EXPECT_EQ(task->get_ID(static_cast<long*>(nullptr)), E_POINTER);
  EXPECT_EQ(task->get_ID(static_cast<std::string*>(nullptr)), E_POINTER);
  EXPECT_EQ(task->get_IsComplete(nullptr), E_POINTER);
  EXPECT_EQ(task->get_Error(nullptr), E_POINTER);
  EXPECT_EQ(task->get_ErrorDescription(nullptr), E_POINTER);
}

TEST_F(ApiTask, RunningTaskReadsSuccessAndNoError) {
  task->on_acknowledged(3);
  VMTaskResult result = vmTaskResult_Cancelled;
  long error = 1;
  std::string text = "x";
  task->get_Result(&result);
  task->get_Error(&error);
  task->get_ErrorDescription(&text);
  EXPECT_EQ(result, vmTaskResult_Success);
  EXPECT_EQ(error, S_OK);
  EXPECT_EQ(text, "");
}

TEST_F(ApiTask, ProgressBeyondTheTotalIsClampedAndZeroTotalIsZero) {
  task->on_acknowledged(0);
  task->on_progress(0, 0, "");
  long percent = -1;
  task->get_PercentCompleted(&percent);
  EXPECT_EQ(percent, 0);
  task->on_progress(5, 3, "x");
  task->get_PercentCompleted(&percent);
  EXPECT_EQ(percent, 100);
}

TEST_F(ApiTask, OnlyTheFirstEndingCountsAndTheCallbackRunsOnce) {
  task->on_acknowledged(1);
  task->on_complete(E_ACCESSDENIED);
  task->on_complete(S_OK);
  task->on_rejected(E_FAIL);
  clock->advance(61s);
  task->check_deadline();
  long error = 0;
  task->get_Error(&error);
  EXPECT_EQ(error, E_ACCESSDENIED);
  EXPECT_EQ(finished_calls, 1);
}

TEST_F(ApiTask, AcknowledgmentWindowEndsAnUnansweredTask) {
  EXPECT_EQ(task->await_acknowledgment(), GuestOperationTask::AckOutcome::kTimedOut);
  EXPECT_EQ(clock->elapsed(), kDefaultAckWindow);
  EXPECT_TRUE(task->has_ended());
  EXPECT_EQ(task->error(), VM_E_TIMED_OUT);
  EXPECT_EQ(finished_calls, 1);
}

TEST_F(ApiTask, WaiterThreadIsWokenByACompleterThread) {
  auto real = make_task(ApiClock::steady(), 30s);
  real->on_acknowledged(2);
  const auto started = std::chrono::steady_clock::now();
  std::atomic<bool> waiter_saw_complete{false};
  std::thread waiter([&] {
    EXPECT_EQ(real->WaitForCompletion(kWaitInfinite), S_OK);
    bool complete = false;
    real->get_IsComplete(&complete);
    waiter_saw_complete = complete;
  });
  std::thread completer([&] {
    std::this_thread::sleep_for(2ms);
    real->on_progress(1, 2, "alice");
    real->on_progress(2, 2, "bob");
    real->on_complete(S_OK);
  });
  completer.join();
  waiter.join();
  EXPECT_TRUE(waiter_saw_complete);
  // Woken by the completion, not by the 30 s deadline.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(finished_calls, 1);
  EXPECT_EQ(last_error, S_OK);
}

TEST_F(ApiTask, ManyWaitersAndReadersRaceOneCompleter) {
  auto real = make_task(ApiClock::steady(), 30s);
  real->on_acknowledged(100);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { EXPECT_EQ(real->WaitForCompletion(kWaitInfinite), S_OK); });
    threads.emplace_back([&] {
      long percent = 0;
      for (int n = 0; n < 200; ++n) real->get_PercentCompleted(&percent);
    });
  }
  for (uint32_t done = 1; done <= 100; ++done) real->on_progress(done, 100, "s");
  real->on_complete(S_OK);
  for (auto& t : threads) t.join();
  EXPECT_EQ(finished_calls, 1);
}

TEST_F(ApiTask, WaitOnTheRealClockHonoursAShortTimeout) {
  auto real = make_task(ApiClock::steady(), 30s);
  real->on_acknowledged(1);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(real->WaitForCompletion(3), S_OK);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 3ms);
  EXPECT_LT(waited, 5s);
  EXPECT_FALSE(is_complete(*real));
}

TEST(ApiTaskResultName, NamesEveryValue) {
  EXPECT_EQ(task_result_name(vmTaskResult_Success), "vmTaskResult_Success");
  EXPECT_EQ(task_result_name(vmTaskResult_TimeOutError), "vmTaskResult_TimeOutError");
  EXPECT_EQ(task_result_name(vmTaskResult_ShutdownAbort), "vmTaskResult_ShutdownAbort");
  EXPECT_EQ(task_result_name(static_cast<VMTaskResult>(42)), "");
}

}  // namespace
}  // namespace kvpc
