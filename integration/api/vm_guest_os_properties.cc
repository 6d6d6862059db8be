// IVMGuestOS properties. Each answers from what the guest agent reported (GuestServices), never
// from a made-up value: a key the agent did not send is VM_E_ADDITIONS_FEATURE_NOT_AVAIL.
#include <algorithm>

#include "integration/api/os_info_values.h"
#include "integration/api/vm_guest_os.h"
#include "integration/protocol.h"

namespace kvpc {
namespace {

// "Turned on" for CanShutdown: any state in which the VM's processors exist.
bool is_turned_on(VMVMState state) {
  switch (state) {
    case vmVMState_TurningOn:
    case vmVMState_Restoring:
    case vmVMState_Running:
    case vmVMState_Paused:
    case vmVMState_Saving:
    case vmVMState_TurningOff:
      return true;
    default:
      return false;
  }
}

}  // namespace

// --- Helpers -----------------------------------------------------------------------------------

HRESULT VMGuestOS::read_os_info(std::string_view member, std::string_view key,
                                HRESULT absent_agent, std::string* value) {
  if (const HRESULT admitted = admit(member, Needs::kRunning); failed(admitted)) return admitted;
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  if (!guest->agent_present()) return absent_agent;
  const auto info = guest->os_info();
  const auto it = info.find(std::string(key));
  if (it == info.end()) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  *value = it->second;
  return S_OK;
}

HRESULT VMGuestOS::read_os_string(std::string_view member, std::string_view key, std::string* out) {
  if (!out) return E_POINTER;
  std::string value;
  const HRESULT result = read_os_info(member, key, VM_E_ADDITIONS_FEATURE_NOT_AVAIL, &value);
  if (succeeded(result)) *out = std::move(value);
  return result;
}

HRESULT VMGuestOS::read_os_bool(std::string_view member, std::string_view key, bool* out) {
  if (!out) return E_POINTER;
  std::string text;
  if (const HRESULT result = read_os_info(member, key, VM_E_ADDITIONS_FEATURE_NOT_AVAIL, &text);
      failed(result)) {
    return result;
  }
  const auto value = parse_guest_bool(text);
  if (!value) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  *out = *value;
  return S_OK;
}

HRESULT VMGuestOS::read_heartbeat(std::string_view member, HeartbeatStatus* status) {
  if (const HRESULT admitted = admit(member, Needs::kRunning); failed(admitted)) return admitted;
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  // Virtual PC: "the integration components feature is not installed, or the installed version
  // does not support this feature" are all VM_E_ADDITIONS_NOT_AVAIL for the heartbeat.
  if (!guest->agent_present() || (guest->agent_features() & kFeatureHeartbeat) == 0 ||
      !guest->channel_ready(proto::kServiceHeartbeat)) {
    return VM_E_ADDITIONS_NOT_AVAIL;
  }
  *status = guest->heartbeat();
  return S_OK;
}

// --- Time sync (a setting: no agent needed) ----------------------------------------------------

HRESULT VMGuestOS::get_IsHostTimeSyncEnabled(bool* isEnabled) {
  if (!isEnabled) return E_POINTER;
  if (const HRESULT admitted = admit("IVMGuestOS::get_IsHostTimeSyncEnabled", Needs::kKnownVm);
      failed(admitted)) {
    return admitted;
  }
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  *isEnabled = guest->time_sync_enabled();
  return S_OK;
}

HRESULT VMGuestOS::put_IsHostTimeSyncEnabled(bool shouldEnable) {
  if (const HRESULT admitted = admit("IVMGuestOS::put_IsHostTimeSyncEnabled", Needs::kKnownVm);
      failed(admitted)) {
    return admitted;
  }
  // Virtual PC: "You cannot change this setting while the virtual machine is active (that is,
  // running or in saved state)". kvpc allows it only while TurnedOff.
  if (host_->state() != vmVMState_TurnedOff) return E_INVALID_STATE;
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  guest->set_time_sync_enabled(shouldEnable);
  return S_OK;
}

// --- Heartbeat ---------------------------------------------------------------------------------

HRESULT VMGuestOS::get_HeartbeatPercentage(long* heartbeatPercentage) {
  if (!heartbeatPercentage) return E_POINTER;
  HeartbeatStatus status;
  const HRESULT result = read_heartbeat("IVMGuestOS::get_HeartbeatPercentage", &status);
  if (succeeded(result)) *heartbeatPercentage = std::min<long>(status.percentage, 100);
  return result;
}

HRESULT VMGuestOS::get_IsHeartbeating(bool* heartBeating) {
  if (!heartBeating) return E_POINTER;
  HeartbeatStatus status;
  const HRESULT result = read_heartbeat("IVMGuestOS::get_IsHeartbeating", &status);
  if (succeeded(result)) *heartBeating = status.heartbeating;
  return result;
}

// --- Identity and version ----------------------------------------------------------------------

HRESULT VMGuestOS::get_OSName(std::string* guestOSName) {
  return read_os_string("IVMGuestOS::get_OSName", os_info_key::kOSName, guestOSName);
}

HRESULT VMGuestOS::get_IntegrationComponentsVersion(std::string* ICVersion) {
  if (!ICVersion) return E_POINTER;
  std::string value;
  const HRESULT result = read_os_info("IVMGuestOS::get_IntegrationComponentsVersion",
                                      os_info_key::kIntegrationComponentsVersion,
                                      VM_E_ADDITIONS_NOT_AVAIL, &value);
  if (succeeded(result)) *ICVersion = std::move(value);
  return result;
}

HRESULT VMGuestOS::get_CanShutdown(bool* canShutdown) {
  if (!canShutdown) return E_POINTER;
  if (const HRESULT admitted = admit("IVMGuestOS::get_CanShutdown", Needs::kKnownVm);
      failed(admitted)) {
    return admitted;
  }
  const VMVMState state = host_->state();
  if (!is_turned_on(state)) {
    *canShutdown = false;
    return S_FALSE;
  }
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  *canShutdown = state == vmVMState_Running && guest->agent_present() &&
                 (guest->agent_features() & kFeatureShutdown) != 0 &&
                 guest->channel_ready(proto::kServiceShutdown);
  return S_OK;
}

HRESULT VMGuestOS::get_TerminalServicesInitialized(bool* termServStatus) {
  return read_os_bool("IVMGuestOS::get_TerminalServicesInitialized",
                      os_info_key::kTerminalServicesInitialized, termServStatus);
}

HRESULT VMGuestOS::get_MultipleUserSessionsAllowed(bool* sessionStatus) {
  return read_os_bool("IVMGuestOS::get_MultipleUserSessionsAllowed",
                      os_info_key::kMultipleUserSessionsAllowed, sessionStatus);
}

HRESULT VMGuestOS::get_TerminalServerPort(long* tsPort) {
  if (!tsPort) return E_POINTER;
  if (const HRESULT admitted = admit("IVMGuestOS::get_TerminalServerPort", Needs::kRunning);
      failed(admitted)) {
    return admitted;
  }
  const auto guest = services();
  if (!guest) return DISP_E_EXCEPTION;
  if (!guest->agent_present()) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  const auto info = guest->os_info();
  const auto port_text = info.find(std::string(os_info_key::kTerminalServerPort));
  if (port_text == info.end()) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  const auto port = parse_guest_integer(port_text->second, 0, 65535);
  if (!port) return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  *tsPort = static_cast<long>(*port);
  // Virtual PC: S_FALSE while Remote Desktop Services are not initialized in the guest.
  const auto initialized = info.find(std::string(os_info_key::kTerminalServicesInitialized));
  if (initialized != info.end() && parse_guest_bool(initialized->second) == false) return S_FALSE;
  return S_OK;
}

HRESULT VMGuestOS::get_OSMajorVersion(std::string* majorVersion) {
  return read_os_string("IVMGuestOS::get_OSMajorVersion", os_info_key::kOSMajorVersion, majorVersion);
}

HRESULT VMGuestOS::get_OSMinorVersion(std::string* minorVersion) {
  return read_os_string("IVMGuestOS::get_OSMinorVersion", os_info_key::kOSMinorVersion, minorVersion);
}

HRESULT VMGuestOS::get_OSBuildNumber(std::string* buildNumber) {
  return read_os_string("IVMGuestOS::get_OSBuildNumber", os_info_key::kOSBuildNumber, buildNumber);
}

HRESULT VMGuestOS::get_OSVersion(std::string* OSVersion) {
  return read_os_string("IVMGuestOS::get_OSVersion", os_info_key::kOSVersion, OSVersion);
}

HRESULT VMGuestOS::get_OSPlatformId(std::string* platformId) {
  return read_os_string("IVMGuestOS::get_OSPlatformId", os_info_key::kOSPlatformId, platformId);
}

HRESULT VMGuestOS::get_CSDVersion(std::string* csdVersion) {
  return read_os_string("IVMGuestOS::get_CSDVersion", os_info_key::kCSDVersion, csdVersion);
}

HRESULT VMGuestOS::get_ServicePackMajor(std::string* servicePackMajor) {
  return read_os_string("IVMGuestOS::get_ServicePackMajor", os_info_key::kServicePackMajor,
                        servicePackMajor);
}

HRESULT VMGuestOS::get_ServicePackMinor(std::string* servicePackMinor) {
  return read_os_string("IVMGuestOS::get_ServicePackMinor", os_info_key::kServicePackMinor,
                        servicePackMinor);
}

HRESULT VMGuestOS::get_SuiteMask(std::string* suiteMask) {
  return read_os_string("IVMGuestOS::get_SuiteMask", os_info_key::kSuiteMask, suiteMask);
}

HRESULT VMGuestOS::get_ProductType(std::string* productType) {
  return read_os_string("IVMGuestOS::get_ProductType", os_info_key::kProductType, productType);
}

HRESULT VMGuestOS::get_ComputerName(std::string* guestComputerName) {
  return read_os_string("IVMGuestOS::get_ComputerName", os_info_key::kComputerName,
                        guestComputerName);
}

HRESULT VMGuestOS::get_ScreenLocked(bool* guestScreenLocked) {
  return read_os_bool("IVMGuestOS::get_ScreenLocked", os_info_key::kScreenLocked,
                      guestScreenLocked);
}

}  // namespace kvpc
