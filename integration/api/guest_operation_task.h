// GuestOperationTask: the IVMTask that IVMGuestOS::Logoff/Shutdown/Restart hand out. It is
// also the GuestOperationObserver given to GuestServices::begin_operation, so the guest's
// acknowledgment, progress and completion land directly in the task.
//
// Life of a task:
//   created -> [on_acknowledged] -> acknowledged -> [on_progress]* -> complete
//   Any state ends in `complete` through exactly one of: on_complete, on_rejected, the
//   acknowledgment window passing (VM_E_TIMED_OUT), the deadline passing (VM_E_TIMED_OUT /
//   vmTaskResult_TimeOutError). The first ending wins; everything after it is ignored.
//
// Deadlines without a thread per task: the task keeps absolute time points and expires
// itself (1) whenever anyone looks at it (every IVMTask member, every observer callback),
// (2) inside WaitForCompletion, which never sleeps past the deadline, and (3) when its owner
// calls check_deadline() from a timer on the VM's event loop (VmHost::run_after), which is what
// makes a task nobody looks at still end on time.
//
// Concurrency contract: every member is safe from any thread. One mutex guards the state; the
// condition variable wakes WaitForCompletion / await_acknowledgment on every change. The
// finished callback runs exactly once, on the thread that ended the task, with no lock held.
// Observer callbacks (event-loop thread) never block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "integration/api/api_clock.h"
#include "integration/api/vm_task.h"
#include "integration/guest_services.h"

namespace kvpc {

class GuestOperationTask final : public IVMTask, public GuestOperationObserver {
 public:
  // Told the final Error once the task completes (any outcome).
  using FinishedCallback = std::function<void(HRESULT error)>;

  struct Setup {
    GuestOperation operation = GuestOperation::kLogoff;
    bool forced = false;
    std::string vm_name;
    std::shared_ptr<ApiClock> clock;
    std::chrono::milliseconds ack_window{5000};  // from creation
    std::chrono::milliseconds deadline{60000};   // from creation, for the whole operation
    FinishedCallback on_finished;
  };

  explicit GuestOperationTask(Setup setup);

  // --- IVMTask ---
  HRESULT WaitForCompletion(long timeoutMs) override;
  // Always E_FAIL: the protocol has no way to take a request back (see docs/api.md).
  HRESULT Cancel() override;
  HRESULT get_PercentCompleted(long* percentCompleted) override;
  HRESULT get_Description(std::string* description) override;
  HRESULT get_Result(VMTaskResult* result) override;
  HRESULT get_IsCancelable(bool* isCancelable) override;
  HRESULT get_ID(long* id) override;
  HRESULT get_ID(std::string* id) override;
  HRESULT get_IsComplete(bool* isComplete) override;
  HRESULT get_Error(long* error) override;
  HRESULT get_ErrorDescription(std::string* errorDescription) override;

  // --- GuestOperationObserver (event-loop thread) ---
  void on_acknowledged(uint32_t sessions_found) override;
  void on_rejected(HRESULT status) override;
  void on_progress(uint32_t done, uint32_t total, const std::string& session_name) override;
  void on_complete(HRESULT status) override;

  // --- For the IVMGuestOS that started the request ---
  enum class AckOutcome {
    kAcknowledged,     // the guest accepted; the task is running (or already done)
    kAnsweredByGuest,  // the guest refused or finished at once: the outcome is in the task
    kLinkFailed,       // the link broke / the VM stopped before any answer: see error()
    kTimedOut,         // no answer within the acknowledgment window (the task is ended)
  };
  // Blocks until the guest answers or the acknowledgment window passes.
  AckOutcome await_acknowledgment();
  // Ends the task with VM_E_TIMED_OUT if its acknowledgment window or deadline has passed.
  void check_deadline();
  // Ends a task whose request never reached the guest (begin_operation failed).
  void end_unsent(HRESULT error);
  // True once complete; unlike get_IsComplete it never expires the task (no callback).
  bool has_ended() const;
  HRESULT error() const;
  ApiClock::time_point deadline() const { return deadline_; }

 private:
  // What the thread that ended the task must do once it has dropped the lock.
  struct Ending {
    FinishedCallback callback;
    HRESULT error = S_OK;
    void run() {
      if (callback) callback(error);
    }
  };

  Ending finish_locked(HRESULT error, VMTaskResult result, std::string description);
  Ending expire_if_due_locked();
  // Locks, expires if due, runs `read`, unlocks, runs the finished callback if it fired.
  template <typename Read>
  HRESULT observe(Read&& read);

  const GuestOperation operation_;
  const std::shared_ptr<ApiClock> clock_;
  const long number_;
  const std::string id_text_;
  const std::string description_;
  const std::chrono::milliseconds ack_window_;
  const std::chrono::milliseconds deadline_length_;
  const ApiClock::time_point created_;
  const ApiClock::time_point ack_until_;
  const ApiClock::time_point deadline_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  FinishedCallback on_finished_;  // moved out when the task ends: runs once
  bool acknowledged_ = false;
  bool complete_ = false;
  bool ack_timed_out_ = false;
  bool link_failed_before_ack_ = false;
  long percent_ = 0;
  VMTaskResult result_ = vmTaskResult_Success;
  HRESULT error_ = S_OK;
  std::string error_description_;
};

// "Log off all users from the guest operating system", "Shut down ...", for Description.
std::string guest_operation_description(GuestOperation operation, bool forced);

}  // namespace kvpc
