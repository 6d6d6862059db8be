// IVMGuestOS methods: the guest operations (Logoff, Shutdown, Restart), parameters, version
// information, sessions. Properties are in vm_guest_os_properties.cc.
#include "integration/api/vm_guest_os.h"

#include <utility>

#include "integration/api/caller_access.h"
#include "integration/api/guest_operation_task.h"
#include "integration/api/os_info_values.h"
#include "integration/protocol.h"

namespace kvpc {
namespace {

uint32_t feature_of(GuestOperation operation) {
  switch (operation) {
    case GuestOperation::kLogoff: return kFeatureLogoff;
    case GuestOperation::kShutdown: return kFeatureShutdown;
    case GuestOperation::kRestart: return kFeatureRestart;
  }
  return 0;
}

// Raises OnGuestLogoff(vmLogoff_External) when a Logoff started through this API succeeds.
// Holds the VM's API state weakly: a task may outlive its VM.
GuestOperationTask::FinishedCallback finished_callback(GuestOperation operation,
                                                       const std::shared_ptr<VmApiState>& state) {
  if (operation != GuestOperation::kLogoff) return nullptr;
  return [weak_state = std::weak_ptr<VmApiState>(state)](HRESULT error) {
    if (!succeeded(error)) return;
    if (auto vm_state = weak_state.lock()) vm_state->events().OnGuestLogoff(vmLogoff_External);
  };
}

}  // namespace

VMGuestOS::VMGuestOS(std::shared_ptr<VmHost> host, CallerIdentity caller)
    : host_(std::move(host)), caller_(std::move(caller)) {}

HRESULT VMGuestOS::admit(std::string_view member, Needs needs) {
  if (const HRESULT access = check_caller_access(*host_, caller_, member); failed(access)) {
    return access;
  }
  if (!host_->known()) return VM_E_VM_UNKNOWN;
  if (needs == Needs::kKnownVm) return S_OK;
  const VMVMState state = host_->state();
  if (state == vmVMState_Running) return S_OK;
  if (state == vmVMState_Paused && needs == Needs::kRunningNotPaused) return VM_E_VM_PAUSED;
  return VM_E_VM_NOT_RUNNING;
}

// --- Guest operations --------------------------------------------------------------------------

HRESULT VMGuestOS::start_operation(std::string_view member, GuestOperation operation, bool forced,
                                   const OperationTimeouts& timeouts,
                                   std::shared_ptr<IVMTask>* out) {
  if (!out) return E_POINTER;
  out->reset();
  if (!are_valid_timeouts(timeouts)) return E_INVALIDARG;
  if (const HRESULT admitted = admit(member, Needs::kRunning); failed(admitted)) return admitted;

  const auto guest = services();
  const auto state = host_->api_state();
  if (!guest || !state) return DISP_E_EXCEPTION;
  if (!guest->agent_present() || (guest->agent_features() & feature_of(operation)) == 0 ||
      !guest->channel_ready(proto::kServiceShutdown)) {
    return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  }
  // The acknowledgment can only arrive through the event loop: waiting on it there would hang.
  if (host_->on_event_loop_thread()) return DISP_E_EXCEPTION;

  const ResolvedTimeouts limits = state->resolve(operation, timeouts);
  const auto claim = state->claim_operation(operation, [&] {
    return std::make_shared<GuestOperationTask>(GuestOperationTask::Setup{
        .operation = operation,
        .forced = forced,
        .vm_name = host_->name(),
        .clock = state->clock(),
        .ack_window = limits.ack_window,
        .deadline = limits.deadline,
        .on_finished = finished_callback(operation, state),
    });
  });

  if (claim.created) {
    const HRESULT sent = guest->begin_operation(operation, forced, claim.task);
    if (sent != S_OK) {
      // E_BUSY with no task of ours in flight: the guest is still busy with an earlier request
      // whose task already timed out, i.e. it has not answered in a timely manner.
      const HRESULT answer = sent == E_BUSY ? VM_E_TIMED_OUT : DISP_E_EXCEPTION;
      claim.task->end_unsent(answer);
      return answer;
    }
    host_->run_after(limits.deadline, [weak_task = std::weak_ptr<GuestOperationTask>(claim.task)] {
      if (auto task = weak_task.lock()) task->check_deadline();
    });
  }

  switch (claim.task->await_acknowledgment()) {
    case GuestOperationTask::AckOutcome::kAcknowledged:
    case GuestOperationTask::AckOutcome::kAnsweredByGuest:
      *out = claim.task;
      return S_OK;
    case GuestOperationTask::AckOutcome::kLinkFailed:
      return claim.task->error();
    case GuestOperationTask::AckOutcome::kTimedOut:
      return VM_E_TIMED_OUT;
  }
  return DISP_E_EXCEPTION;
}

HRESULT VMGuestOS::Shutdown(bool inForced, std::shared_ptr<IVMTask>* outShutdownTask) {
  return ShutdownWithTimeouts(inForced, {}, outShutdownTask);
}

HRESULT VMGuestOS::Restart(bool inForced, std::shared_ptr<IVMTask>* outRestartTask) {
  return RestartWithTimeouts(inForced, {}, outRestartTask);
}

HRESULT VMGuestOS::Logoff(std::shared_ptr<IVMTask>* outLogoffTask) {
  return LogoffWithTimeouts({}, outLogoffTask);
}

HRESULT VMGuestOS::LogoffWithTimeouts(const OperationTimeouts& timeouts,
                                      std::shared_ptr<IVMTask>* outLogoffTask) {
  return start_operation("IVMGuestOS::Logoff", GuestOperation::kLogoff, false, timeouts,
                         outLogoffTask);
}

HRESULT VMGuestOS::ShutdownWithTimeouts(bool inForced, const OperationTimeouts& timeouts,
                                        std::shared_ptr<IVMTask>* outShutdownTask) {
  return start_operation("IVMGuestOS::Shutdown", GuestOperation::kShutdown, inForced, timeouts,
                         outShutdownTask);
}

HRESULT VMGuestOS::RestartWithTimeouts(bool inForced, const OperationTimeouts& timeouts,
                                       std::shared_ptr<IVMTask>* outRestartTask) {
  return start_operation("IVMGuestOS::Restart", GuestOperation::kRestart, inForced, timeouts,
                         outRestartTask);
}

// --- The other methods -------------------------------------------------------------------------

HRESULT VMGuestOS::InstallIntegrationComponents() {
  if (const HRESULT admitted = admit("IVMGuestOS::InstallIntegrationComponents", Needs::kRunning);
      failed(admitted)) {
    return admitted;
  }
  return E_IC_ISO_NOT_FOUND;
}

HRESULT VMGuestOS::SetParameter(std::string_view inParameterName, std::string_view inParameterValue) {
  if (!is_valid_parameter_name(inParameterName) ||
      inParameterValue.size() > GuestParameterStore::kMaxValueBytes) {
    return E_INVALIDARG;
  }
  if (const HRESULT admitted = admit("IVMGuestOS::SetParameter", Needs::kKnownVm); failed(admitted)) {
    return admitted;
  }
  const auto state = host_->api_state();
  if (!state) return DISP_E_EXCEPTION;
  // Only a full store can still refuse here.
  return state->parameters().set(inParameterName, inParameterValue) ? S_OK : E_INVALIDARG;
}

HRESULT VMGuestOS::GetParameter(std::string_view inParameterName, std::string* outParameterValue) {
  if (!outParameterValue) return E_POINTER;
  if (!is_valid_parameter_name(inParameterName)) return E_INVALIDARG;
  if (const HRESULT admitted = admit("IVMGuestOS::GetParameter", Needs::kKnownVm); failed(admitted)) {
    return admitted;
  }
  const auto state = host_->api_state();
  if (!state) return DISP_E_EXCEPTION;
  const auto value = state->parameters().get(inParameterName);
  *outParameterValue = value.value_or("");
  return value ? S_OK : S_FALSE;
}

HRESULT VMGuestOS::GetOsVersionInfo(GUESTOSVERSIONINFOEX* guestOsVersionInfo) {
  if (!guestOsVersionInfo) return E_POINTER;
  if (const HRESULT admitted = admit("IVMGuestOS::GetOsVersionInfo", Needs::kRunning);
      failed(admitted)) {
    return admitted;
  }
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  if (!guest->agent_present()) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  const auto info = version_info_from_os_info(guest->os_info());
  if (!info) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  *guestOsVersionInfo = *info;
  return S_OK;
}

HRESULT VMGuestOS::IsUserLoggedOn(long inRailSession, bool* outSessionPresent) {
  if (!outSessionPresent) return E_POINTER;
  if (inRailSession != 0 && inRailSession != 1) return E_INVALIDARG;
  if (const HRESULT admitted = admit("IVMGuestOS::IsUserLoggedOn", Needs::kRunningNotPaused);
      failed(admitted)) {
    return admitted;
  }
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  // 0 asks about a RemoteApp (RAIL) session: kvpc guests have none to report, so the feature
  // is not available rather than a made-up "no".
  if (!guest->agent_present() || (guest->agent_features() & kFeatureSessionList) == 0 ||
      inRailSession == 0) {
    return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  }
  const auto sessions = guest->sessions();
  if (!sessions) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  *outSessionPresent = !sessions->empty();
  return S_OK;
}

}  // namespace kvpc
