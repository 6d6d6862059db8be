#include "integration/api/vm_api_state.h"

#include <utility>

namespace kvpc {

bool is_valid_ack_window(std::chrono::milliseconds window) {
  return window >= kMinOperationTimeout && window <= kMaxAckWindow;
}

bool is_valid_deadline(std::chrono::milliseconds deadline) {
  return deadline >= kMinOperationTimeout && deadline <= kMaxOperationDeadline;
}

bool are_valid_timeouts(const OperationTimeouts& timeouts) {
  return (!timeouts.ack_window || is_valid_ack_window(*timeouts.ack_window)) &&
         (!timeouts.deadline || is_valid_deadline(*timeouts.deadline));
}

VmApiState::VmApiState(std::shared_ptr<ApiClock> clock)
    : clock_(clock ? std::move(clock) : ApiClock::steady()),
      defaults_{ResolvedTimeouts{kDefaultAckWindow, kDefaultLogoffDeadline},
                ResolvedTimeouts{kDefaultAckWindow, kDefaultShutdownDeadline},
                ResolvedTimeouts{kDefaultAckWindow, kDefaultRestartDeadline}} {}

size_t VmApiState::slot_of(GuestOperation operation) {
  switch (operation) {
    case GuestOperation::kLogoff: return 0;
    case GuestOperation::kShutdown: return 1;
    case GuestOperation::kRestart: return 2;
  }
  return 0;
}

HRESULT VmApiState::set_default_timeouts(GuestOperation operation,
                                         std::chrono::milliseconds ack_window,
                                         std::chrono::milliseconds deadline) {
  if (!is_valid_ack_window(ack_window) || !is_valid_deadline(deadline)) return E_INVALIDARG;
  std::lock_guard lock(mutex_);
  defaults_[slot_of(operation)] = ResolvedTimeouts{ack_window, deadline};
  return S_OK;
}

ResolvedTimeouts VmApiState::default_timeouts(GuestOperation operation) const {
  std::lock_guard lock(mutex_);
  return defaults_[slot_of(operation)];
}

ResolvedTimeouts VmApiState::resolve(GuestOperation operation,
                                     const OperationTimeouts& per_call) const {
  ResolvedTimeouts resolved = default_timeouts(operation);
  if (per_call.ack_window) resolved.ack_window = *per_call.ack_window;
  if (per_call.deadline) resolved.deadline = *per_call.deadline;
  return resolved;
}

VmApiState::Claim VmApiState::claim_operation(
    GuestOperation operation, const std::function<std::shared_ptr<GuestOperationTask>()>& create) {
  const size_t slot = slot_of(operation);
  std::shared_ptr<GuestOperationTask> previous;
  {
    std::lock_guard lock(mutex_);
    previous = in_flight_[slot];
  }
  // Outside the lock: expiring the task may run its finished callback (and raise events).
  if (previous) previous->check_deadline();

  std::lock_guard lock(mutex_);
  auto& current = in_flight_[slot];
  if (current && !current->has_ended()) return Claim{current, false};
  current = create();
  return Claim{current, true};
}

}  // namespace kvpc
