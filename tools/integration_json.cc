#include "tools/integration_json.h"

namespace kvpc {

void add_hresult(nlohmann::json& object, HRESULT value) {
  object["hresult"] = hresult_hex(value);
  object["hresult_name"] = std::string(hresult_name(value));
}

nlohmann::json task_json(IVMTask& task) {
  nlohmann::json json;
  std::string id, description, error_description;
  bool complete = false;
  VMTaskResult result = vmTaskResult_Success;
  long percent = 0, error = 0;
  task.get_ID(&id);
  task.get_IsComplete(&complete);
  task.get_Result(&result);
  task.get_PercentCompleted(&percent);
  task.get_Error(&error);
  task.get_ErrorDescription(&error_description);
  task.get_Description(&description);
  json["id"] = id;
  json["description"] = description;
  json["is_complete"] = complete;
  json["result"] = static_cast<int>(result);
  json["result_name"] = std::string(task_result_name(result));
  json["percent_completed"] = percent;
  json["error"] = hresult_hex(static_cast<HRESULT>(error));
  json["error_name"] = std::string(hresult_name(static_cast<HRESULT>(error)));
  json["error_description"] = error_description;
  return json;
}

namespace {

template <typename T>
void property(nlohmann::json& out, const char* name, HRESULT (IVMGuestOS::*getter)(T*), IVMGuestOS& guest) {
  T value{};
  HRESULT hresult = (guest.*getter)(&value);
  nlohmann::json entry;
  add_hresult(entry, hresult);
  if (succeeded(hresult)) entry["value"] = value;
  out[name] = entry;
}

}  // namespace

nlohmann::json guest_properties_json(IVMGuestOS& guest) {
  nlohmann::json out = nlohmann::json::object();
  property<std::string>(out, "OSName", &IVMGuestOS::get_OSName, guest);
  property<std::string>(out, "ComputerName", &IVMGuestOS::get_ComputerName, guest);
  property<std::string>(out, "OSVersion", &IVMGuestOS::get_OSVersion, guest);
  property<std::string>(out, "OSMajorVersion", &IVMGuestOS::get_OSMajorVersion, guest);
  property<std::string>(out, "OSMinorVersion", &IVMGuestOS::get_OSMinorVersion, guest);
  property<std::string>(out, "OSBuildNumber", &IVMGuestOS::get_OSBuildNumber, guest);
  property<std::string>(out, "OSPlatformId", &IVMGuestOS::get_OSPlatformId, guest);
  property<std::string>(out, "CSDVersion", &IVMGuestOS::get_CSDVersion, guest);
  property<std::string>(out, "ServicePackMajor", &IVMGuestOS::get_ServicePackMajor, guest);
  property<std::string>(out, "ServicePackMinor", &IVMGuestOS::get_ServicePackMinor, guest);
  property<std::string>(out, "SuiteMask", &IVMGuestOS::get_SuiteMask, guest);
  property<std::string>(out, "ProductType", &IVMGuestOS::get_ProductType, guest);
  property<std::string>(out, "IntegrationComponentsVersion", &IVMGuestOS::get_IntegrationComponentsVersion, guest);
  property<bool>(out, "IsHeartbeating", &IVMGuestOS::get_IsHeartbeating, guest);
  property<long>(out, "HeartbeatPercentage", &IVMGuestOS::get_HeartbeatPercentage, guest);
  property<bool>(out, "IsHostTimeSyncEnabled", &IVMGuestOS::get_IsHostTimeSyncEnabled, guest);
  property<bool>(out, "CanShutdown", &IVMGuestOS::get_CanShutdown, guest);
  property<bool>(out, "TerminalServicesInitialized", &IVMGuestOS::get_TerminalServicesInitialized, guest);
  property<bool>(out, "MultipleUserSessionsAllowed", &IVMGuestOS::get_MultipleUserSessionsAllowed, guest);
  property<long>(out, "TerminalServerPort", &IVMGuestOS::get_TerminalServerPort, guest);
  property<bool>(out, "ScreenLocked", &IVMGuestOS::get_ScreenLocked, guest);
  // IsUserLoggedOn(1): is an (RDP-style, i.e. ordinary) session present? 0 would ask for RemoteApp.
  bool present = false;
  HRESULT hresult = guest.IsUserLoggedOn(1, &present);
  nlohmann::json entry;
  add_hresult(entry, hresult);
  if (succeeded(hresult)) entry["value"] = present;
  out["IsUserLoggedOn"] = entry;
  return out;
}

const char* vm_state_name(VMVMState state) {
  switch (state) {
    case vmVMState_Invalid: return "Invalid";
    case vmVMState_TurnedOff: return "TurnedOff";
    case vmVMState_Saved: return "Saved";
    case vmVMState_TurningOn: return "TurningOn";
    case vmVMState_Restoring: return "Restoring";
    case vmVMState_Running: return "Running";
    case vmVMState_Paused: return "Paused";
    case vmVMState_Saving: return "Saving";
    case vmVMState_TurningOff: return "TurningOff";
    case vmVMState_MergingDrives: return "MergingDrives";
    case vmVMState_DeleteMachine: return "DeleteMachine";
  }
  return "Invalid";
}

const char* logoff_type_name(VMLogoffType type) {
  switch (type) {
    case vmLogoff_Normal: return "Normal";
    case vmLogoff_Forced: return "Forced";
    case vmLogoff_External: return "External";
  }
  return "?";
}

}  // namespace kvpc
