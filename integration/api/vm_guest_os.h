// IVMGuestOS: Virtual PC's handle on the guest operating system of one VM, member for member
// in the SDK's vtable order (VPCCOMInterfaces.h; IUnknown/IDispatch left out), followed by
// kvpc's three extensions that take per-call timeouts. docs/api.md lists every member's
// HRESULTs and the porting rules:
//   BSTR in       -> std::string_view (UTF-8)      BSTR* out     -> std::string*
//   VARIANT_BOOL  -> bool                          long          -> long
//   IVMTask** out -> std::shared_ptr<IVMTask>*     GUESTOSVERSIONINFOEX** -> GUESTOSVERSIONINFOEX*
// Every out pointer may be NULL (E_POINTER); on failure an out task is left empty.
//
// Check order in every member: argument checks (E_POINTER, E_INVALIDARG), then the caller's
// access (HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)), then VM_E_VM_UNKNOWN, then the VM state,
// then the integration components, then the work itself.
//
// Concurrency contract: every member is safe from any thread. Logoff, Shutdown and Restart
// block the calling thread until the guest acknowledges (at most the acknowledgment window)
// and so must not be called on the VM's event-loop thread (they answer DISP_E_EXCEPTION there)
// nor from an event sink.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "integration/api/vm_api_state.h"
#include "integration/api/vm_host.h"
#include "integration/api/vm_task.h"
#include "integration/api/vm_types.h"
#include "integration/hresult.h"

namespace kvpc {

class IVMGuestOS {
 public:
  virtual ~IVMGuestOS() = default;

  virtual HRESULT InstallIntegrationComponents() = 0;
  virtual HRESULT SetParameter(std::string_view inParameterName, std::string_view inParameterValue) = 0;
  virtual HRESULT Shutdown(bool inForced, std::shared_ptr<IVMTask>* outShutdownTask) = 0;
  virtual HRESULT Restart(bool inForced, std::shared_ptr<IVMTask>* outRestartTask) = 0;
  virtual HRESULT Logoff(std::shared_ptr<IVMTask>* outLogoffTask) = 0;
  virtual HRESULT GetOsVersionInfo(GUESTOSVERSIONINFOEX* guestOsVersionInfo) = 0;
  virtual HRESULT get_IsHostTimeSyncEnabled(bool* isEnabled) = 0;
  virtual HRESULT put_IsHostTimeSyncEnabled(bool shouldEnable) = 0;
  virtual HRESULT get_HeartbeatPercentage(long* heartbeatPercentage) = 0;
  virtual HRESULT get_IsHeartbeating(bool* heartBeating) = 0;
  virtual HRESULT get_OSName(std::string* guestOSName) = 0;
  virtual HRESULT get_IntegrationComponentsVersion(std::string* ICVersion) = 0;
  virtual HRESULT get_CanShutdown(bool* canShutdown) = 0;
  virtual HRESULT get_TerminalServicesInitialized(bool* termServStatus) = 0;
  virtual HRESULT get_MultipleUserSessionsAllowed(bool* sessionStatus) = 0;
  virtual HRESULT get_TerminalServerPort(long* tsPort) = 0;
  virtual HRESULT get_OSMajorVersion(std::string* majorVersion) = 0;
  virtual HRESULT get_OSMinorVersion(std::string* minorVersion) = 0;
  virtual HRESULT get_OSBuildNumber(std::string* buildNumber) = 0;
  virtual HRESULT get_OSVersion(std::string* OSVersion) = 0;
  virtual HRESULT get_OSPlatformId(std::string* platformId) = 0;
  virtual HRESULT get_CSDVersion(std::string* csdVersion) = 0;
  virtual HRESULT get_ServicePackMajor(std::string* servicePackMajor) = 0;
  virtual HRESULT get_ServicePackMinor(std::string* servicePackMinor) = 0;
  virtual HRESULT get_SuiteMask(std::string* suiteMask) = 0;
  virtual HRESULT get_ProductType(std::string* productType) = 0;
  virtual HRESULT GetParameter(std::string_view inParameterName, std::string* outParameterValue) = 0;
  virtual HRESULT get_ComputerName(std::string* guestComputerName) = 0;
  virtual HRESULT get_ScreenLocked(bool* guestScreenLocked) = 0;
  virtual HRESULT IsUserLoggedOn(long inRailSession, bool* outSessionPresent) = 0;

  // --- kvpc extensions: the same operations with per-call timeouts (unset = the VM's) ---
  virtual HRESULT LogoffWithTimeouts(const OperationTimeouts& timeouts,
                                     std::shared_ptr<IVMTask>* outLogoffTask) = 0;
  virtual HRESULT ShutdownWithTimeouts(bool inForced, const OperationTimeouts& timeouts,
                                       std::shared_ptr<IVMTask>* outShutdownTask) = 0;
  virtual HRESULT RestartWithTimeouts(bool inForced, const OperationTimeouts& timeouts,
                                      std::shared_ptr<IVMTask>* outRestartTask) = 0;
};

// kvpc's IVMGuestOS, obtained through VMVirtualMachine::get_GuestOS. It holds no guest state
// of its own: each call reads VmHost and GuestServices afresh.
class VMGuestOS final : public IVMGuestOS {
 public:
  VMGuestOS(std::shared_ptr<VmHost> host, CallerIdentity caller);

  HRESULT InstallIntegrationComponents() override;
  HRESULT SetParameter(std::string_view inParameterName, std::string_view inParameterValue) override;
  HRESULT Shutdown(bool inForced, std::shared_ptr<IVMTask>* outShutdownTask) override;
  HRESULT Restart(bool inForced, std::shared_ptr<IVMTask>* outRestartTask) override;
  HRESULT Logoff(std::shared_ptr<IVMTask>* outLogoffTask) override;
  HRESULT GetOsVersionInfo(GUESTOSVERSIONINFOEX* guestOsVersionInfo) override;
  HRESULT get_IsHostTimeSyncEnabled(bool* isEnabled) override;
  HRESULT put_IsHostTimeSyncEnabled(bool shouldEnable) override;
  HRESULT get_HeartbeatPercentage(long* heartbeatPercentage) override;
  HRESULT get_IsHeartbeating(bool* heartBeating) override;
  HRESULT get_OSName(std::string* guestOSName) override;
  HRESULT get_IntegrationComponentsVersion(std::string* ICVersion) override;
  HRESULT get_CanShutdown(bool* canShutdown) override;
  HRESULT get_TerminalServicesInitialized(bool* termServStatus) override;
  HRESULT get_MultipleUserSessionsAllowed(bool* sessionStatus) override;
  HRESULT get_TerminalServerPort(long* tsPort) override;
  HRESULT get_OSMajorVersion(std::string* majorVersion) override;
  HRESULT get_OSMinorVersion(std::string* minorVersion) override;
  HRESULT get_OSBuildNumber(std::string* buildNumber) override;
  HRESULT get_OSVersion(std::string* OSVersion) override;
  HRESULT get_OSPlatformId(std::string* platformId) override;
  HRESULT get_CSDVersion(std::string* csdVersion) override;
  HRESULT get_ServicePackMajor(std::string* servicePackMajor) override;
  HRESULT get_ServicePackMinor(std::string* servicePackMinor) override;
  HRESULT get_SuiteMask(std::string* suiteMask) override;
  HRESULT get_ProductType(std::string* productType) override;
  HRESULT GetParameter(std::string_view inParameterName, std::string* outParameterValue) override;
  HRESULT get_ComputerName(std::string* guestComputerName) override;
  HRESULT get_ScreenLocked(bool* guestScreenLocked) override;
  HRESULT IsUserLoggedOn(long inRailSession, bool* outSessionPresent) override;

  HRESULT LogoffWithTimeouts(const OperationTimeouts& timeouts,
                             std::shared_ptr<IVMTask>* outLogoffTask) override;
  HRESULT ShutdownWithTimeouts(bool inForced, const OperationTimeouts& timeouts,
                               std::shared_ptr<IVMTask>* outShutdownTask) override;
  HRESULT RestartWithTimeouts(bool inForced, const OperationTimeouts& timeouts,
                              std::shared_ptr<IVMTask>* outRestartTask) override;

 private:
  // What a member needs of the VM state after the access and VM_E_VM_UNKNOWN checks.
  enum class Needs {
    kKnownVm,            // any state
    kRunning,            // Running; every other state (Paused too) is VM_E_VM_NOT_RUNNING
    kRunningNotPaused,   // Running; Paused is VM_E_VM_PAUSED, the rest VM_E_VM_NOT_RUNNING
  };
  HRESULT admit(std::string_view member, Needs needs);

  HRESULT start_operation(std::string_view member, GuestOperation operation, bool forced,
                          const OperationTimeouts& timeouts, std::shared_ptr<IVMTask>* out);

  // The agent's services once admit() passed: null only if the machine broke its contract.
  std::shared_ptr<GuestServices> services() const { return host_->guest_services(); }
  // A value from the agent's os-info (a property that needs the VM running).
  // `absent_agent` is the answer when no agent is present.
  HRESULT read_os_info(std::string_view member, std::string_view key, HRESULT absent_agent,
                       std::string* value);
  HRESULT read_os_string(std::string_view member, std::string_view key, std::string* out);
  HRESULT read_os_bool(std::string_view member, std::string_view key, bool* out);
  HRESULT read_heartbeat(std::string_view member, HeartbeatStatus* status);

  const std::shared_ptr<VmHost> host_;
  const CallerIdentity caller_;
};

}  // namespace kvpc
