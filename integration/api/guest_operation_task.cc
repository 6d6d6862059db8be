#include "integration/api/guest_operation_task.h"

#include <algorithm>
#include <atomic>
#include <utility>

namespace kvpc {
namespace {

// Process-wide, so the numeric ID is unique across every VM this process serves.
std::atomic<long> next_task_number{1};

std::string_view operation_noun(GuestOperation operation) {
  switch (operation) {
    case GuestOperation::kLogoff: return "logoff";
    case GuestOperation::kShutdown: return "shutdown";
    case GuestOperation::kRestart: return "restart";
  }
  return "operation";
}

// Ends the host side reports on its own (GuestServices contract): not an answer from the guest.
bool is_link_failure(HRESULT status) {
  return status == DISP_E_EXCEPTION || status == VM_E_VM_NOT_RUNNING;
}

std::string failure_text(HRESULT error) {
  std::string text{hresult_message(error)};
  if (text.empty()) text = "The guest operating system reported a failure.";
  return text + " [" + describe_hresult(error) + "]";
}

std::string timeout_text(std::string_view what, std::chrono::milliseconds limit) {
  return std::string(what) + " within " + std::to_string(limit.count()) + " ms. [" +
         describe_hresult(VM_E_TIMED_OUT) + "]";
}

}  // namespace

std::string guest_operation_description(GuestOperation operation, bool forced) {
  const std::string how = forced ? " (forced)" : "";
  switch (operation) {
    case GuestOperation::kLogoff: return "Log off all users from the guest operating system";
    case GuestOperation::kShutdown: return "Shut down the guest operating system" + how;
    case GuestOperation::kRestart: return "Restart the guest operating system" + how;
  }
  return "Guest operation";
}

GuestOperationTask::GuestOperationTask(Setup setup)
    : operation_(setup.operation),
      clock_(setup.clock ? std::move(setup.clock) : ApiClock::steady()),
      number_(next_task_number.fetch_add(1)),
      id_text_(setup.vm_name + "/" + std::to_string(number_)),
      description_(guest_operation_description(setup.operation, setup.forced) + " of VM '" +
                   setup.vm_name + "'"),
      ack_window_(setup.ack_window),
      deadline_length_(setup.deadline),
      created_(clock_->now()),
      ack_until_(std::min(saturating_add(created_, setup.ack_window),
                          saturating_add(created_, setup.deadline))),
      deadline_(saturating_add(created_, setup.deadline)),
      on_finished_(std::move(setup.on_finished)) {}

GuestOperationTask::Ending GuestOperationTask::finish_locked(HRESULT error, VMTaskResult result,
                                                             std::string description) {
  if (complete_) return {};
  complete_ = true;
  error_ = error;
  result_ = result;
  error_description_ = std::move(description);
  if (result == vmTaskResult_Success) percent_ = 100;
  changed_.notify_all();
  return Ending{std::exchange(on_finished_, nullptr), error};
}

GuestOperationTask::Ending GuestOperationTask::expire_if_due_locked() {
  if (complete_) return {};
  const auto now = clock_->now();
  if (!acknowledged_ && now >= ack_until_) {
    ack_timed_out_ = true;
    return finish_locked(
        VM_E_TIMED_OUT, vmTaskResult_TimeOutError,
        timeout_text("The guest agent did not acknowledge the " +
                         std::string(operation_noun(operation_)) + " request",
                     std::min(ack_window_, deadline_length_)));
  }
  if (now >= deadline_) {
    return finish_locked(VM_E_TIMED_OUT, vmTaskResult_TimeOutError,
                         timeout_text("The guest operating system did not finish the " +
                                          std::string(operation_noun(operation_)),
                                      deadline_length_));
  }
  return {};
}

template <typename Read>
HRESULT GuestOperationTask::observe(Read&& read) {
  Ending ending;
  {
    std::lock_guard lock(mutex_);
    ending = expire_if_due_locked();
    read();
  }
  ending.run();
  return S_OK;
}

// --- IVMTask -----------------------------------------------------------------------------------

HRESULT GuestOperationTask::WaitForCompletion(long timeoutMs) {
  if (!is_valid_wait_timeout(timeoutMs)) return E_INVALIDARG;
  Ending ending;
  {
    std::unique_lock lock(mutex_);
    const auto until = timeoutMs == kWaitInfinite
                           ? ApiClock::time_point::max()
                           : saturating_add(clock_->now(), std::chrono::milliseconds(timeoutMs));
    for (;;) {
      Ending expired = expire_if_due_locked();
      if (expired.callback) ending = std::move(expired);
      if (complete_ || clock_->now() >= until) break;
      // Never sleep past the moment the task must expire itself.
      auto wake = std::min(until, deadline_);
      if (!acknowledged_) wake = std::min(wake, ack_until_);
      clock_->wait_until(changed_, lock, wake);
    }
  }
  ending.run();
  return S_OK;
}

HRESULT GuestOperationTask::Cancel() { return E_FAIL; }

HRESULT GuestOperationTask::get_PercentCompleted(long* percentCompleted) {
  if (!percentCompleted) return E_POINTER;
  return observe([&] { *percentCompleted = percent_; });
}

HRESULT GuestOperationTask::get_Description(std::string* description) {
  if (!description) return E_POINTER;
  *description = description_;
  return S_OK;
}

HRESULT GuestOperationTask::get_Result(VMTaskResult* result) {
  if (!result) return E_POINTER;
  return observe([&] { *result = result_; });
}

HRESULT GuestOperationTask::get_IsCancelable(bool* isCancelable) {
  if (!isCancelable) return E_POINTER;
  *isCancelable = false;
  return S_OK;
}

HRESULT GuestOperationTask::get_ID(long* id) {
  if (!id) return E_POINTER;
  *id = number_;
  return S_OK;
}

HRESULT GuestOperationTask::get_ID(std::string* id) {
  if (!id) return E_POINTER;
  *id = id_text_;
  return S_OK;
}

HRESULT GuestOperationTask::get_IsComplete(bool* isComplete) {
  if (!isComplete) return E_POINTER;
  return observe([&] { *isComplete = complete_; });
}

HRESULT GuestOperationTask::get_Error(long* error) {
  if (!error) return E_POINTER;
  return observe([&] { *error = error_; });
}

HRESULT GuestOperationTask::get_ErrorDescription(std::string* errorDescription) {
  if (!errorDescription) return E_POINTER;
  return observe([&] { *errorDescription = error_description_; });
}

// --- GuestOperationObserver --------------------------------------------------------------------

void GuestOperationTask::on_acknowledged(uint32_t /*sessions_found*/) {
  observe([&] {
    if (complete_) return;
    acknowledged_ = true;
    changed_.notify_all();
  });
}

void GuestOperationTask::on_rejected(HRESULT status) {
  Ending ending;
  {
    std::lock_guard lock(mutex_);
    ending = expire_if_due_locked();
    // A "rejection" carrying a success code breaks the protocol: report it as unexpected.
    const HRESULT error = failed(status) ? status : DISP_E_EXCEPTION;
    if (!ending.callback) ending = finish_locked(error, vmTaskResult_UnexpectedError, failure_text(error));
  }
  ending.run();
}

void GuestOperationTask::on_progress(uint32_t done, uint32_t total, const std::string& /*session_name*/) {
  observe([&] {
    if (complete_) return;
    // Progress implies the guest accepted the request, even if its acknowledgment got lost.
    acknowledged_ = true;
    const uint64_t clamped = std::min(done, total);
    percent_ = total == 0 ? 0 : static_cast<long>(clamped * 100 / total);
    changed_.notify_all();
  });
}

void GuestOperationTask::on_complete(HRESULT status) {
  Ending ending;
  {
    std::lock_guard lock(mutex_);
    ending = expire_if_due_locked();
    if (!ending.callback && !complete_) {
      // A guest that was asked to shut down and is now off did what it was asked.
      if (operation_ == GuestOperation::kShutdown && status == VM_E_VM_NOT_RUNNING) status = S_OK;
      if (succeeded(status)) {
        ending = finish_locked(status, vmTaskResult_Success, "");
      } else {
        link_failed_before_ack_ = !acknowledged_ && is_link_failure(status);
        ending = finish_locked(status, vmTaskResult_UnexpectedError, failure_text(status));
      }
    }
  }
  ending.run();
}

// --- Owner side --------------------------------------------------------------------------------

GuestOperationTask::AckOutcome GuestOperationTask::await_acknowledgment() {
  Ending ending;
  AckOutcome outcome;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      Ending expired = expire_if_due_locked();
      if (expired.callback) ending = std::move(expired);
      if (acknowledged_) {
        outcome = AckOutcome::kAcknowledged;
        break;
      }
      if (complete_) {
        outcome = ack_timed_out_           ? AckOutcome::kTimedOut
                  : link_failed_before_ack_ ? AckOutcome::kLinkFailed
                                            : AckOutcome::kAnsweredByGuest;
        break;
      }
      clock_->wait_until(changed_, lock, ack_until_);
    }
  }
  ending.run();
  return outcome;
}

void GuestOperationTask::check_deadline() {
  observe([] {});
}

void GuestOperationTask::end_unsent(HRESULT error) {
  Ending ending;
  {
    std::lock_guard lock(mutex_);
    link_failed_before_ack_ = true;
    ending = finish_locked(error, vmTaskResult_UnexpectedError, failure_text(error));
  }
  ending.run();
}

bool GuestOperationTask::has_ended() const {
  std::lock_guard lock(mutex_);
  return complete_;
}

HRESULT GuestOperationTask::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

}  // namespace kvpc
