// VmApiState: what the API keeps per VM, shared by every caller's VMVirtualMachine/IVMGuestOS
// objects for that VM: the clock, the timeout defaults, the parameter store, the event hub and
// the guest operation in flight of each kind. The machine owns one per VM and hands it out
// through VmHost::api_state(); it raises VM events through events().
//
// Timeouts (docs/api.md): a guest operation has an acknowledgment window (the guest agent must
// answer the request within it, else the call returns VM_E_TIMED_OUT) and a deadline (the whole
// operation must finish within it, else the task ends with VM_E_TIMED_OUT/TimeOutError), both
// measured from the call. Defaults: 5 s to acknowledge; 60 s to log off, 120 s to shut down or
// restart. Both are configurable per VM here and per call through OperationTimeouts.
//
// Concurrency contract: every member is safe from any thread. The in-flight slots have their
// own mutex, never held while a task's finished callback runs.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "integration/api/api_clock.h"
#include "integration/api/guest_operation_task.h"
#include "integration/api/guest_parameter_store.h"
#include "integration/api/vm_event_hub.h"
#include "integration/guest_services.h"

namespace kvpc {

// Per-call overrides; an unset field takes the VM's default.
struct OperationTimeouts {
  std::optional<std::chrono::milliseconds> ack_window{};
  std::optional<std::chrono::milliseconds> deadline{};
};

struct ResolvedTimeouts {
  std::chrono::milliseconds ack_window;
  std::chrono::milliseconds deadline;
};

inline constexpr std::chrono::milliseconds kMinOperationTimeout{1};
inline constexpr std::chrono::milliseconds kMaxAckWindow{600'000};       // 10 minutes
inline constexpr std::chrono::milliseconds kMaxOperationDeadline{86'400'000};  // 24 hours
inline constexpr std::chrono::milliseconds kDefaultAckWindow{5'000};
inline constexpr std::chrono::milliseconds kDefaultLogoffDeadline{60'000};
inline constexpr std::chrono::milliseconds kDefaultShutdownDeadline{120'000};
inline constexpr std::chrono::milliseconds kDefaultRestartDeadline{120'000};

bool is_valid_ack_window(std::chrono::milliseconds window);
bool is_valid_deadline(std::chrono::milliseconds deadline);
bool are_valid_timeouts(const OperationTimeouts& timeouts);

class VmApiState {
 public:
  explicit VmApiState(std::shared_ptr<ApiClock> clock = ApiClock::steady());
  VmApiState(const VmApiState&) = delete;
  VmApiState& operator=(const VmApiState&) = delete;

  const std::shared_ptr<ApiClock>& clock() const { return clock_; }

  // E_INVALIDARG when a value is outside the ranges above.
  HRESULT set_default_timeouts(GuestOperation operation, std::chrono::milliseconds ack_window,
                               std::chrono::milliseconds deadline);
  ResolvedTimeouts default_timeouts(GuestOperation operation) const;
  // The per-call values where set, the VM's defaults elsewhere (call are_valid_timeouts first).
  ResolvedTimeouts resolve(GuestOperation operation, const OperationTimeouts& per_call) const;

  GuestParameterStore& parameters() { return parameters_; }
  VmEventHub& events() { return events_; }

  // The operation of `operation`'s kind still in flight, or a new one made by `create` (which
  // runs under the slot lock: it must only construct). `created` says which.
  struct Claim {
    std::shared_ptr<GuestOperationTask> task;
    bool created = false;
  };
  Claim claim_operation(GuestOperation operation,
                        const std::function<std::shared_ptr<GuestOperationTask>()>& create);

 private:
  static size_t slot_of(GuestOperation operation);

  const std::shared_ptr<ApiClock> clock_;
  GuestParameterStore parameters_;
  VmEventHub events_;

  mutable std::mutex mutex_;  // guards defaults_, in_flight_
  std::array<ResolvedTimeouts, 3> defaults_;
  std::array<std::shared_ptr<GuestOperationTask>, 3> in_flight_;
};

}  // namespace kvpc
