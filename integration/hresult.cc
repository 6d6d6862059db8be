#include "integration/hresult.h"

#include <array>

#include <fmt/format.h>

namespace kvpc {

namespace {

struct HresultInfo {
  HRESULT value;
  std::string_view name;     // as the SDK header spells it
  std::string_view message;  // one sentence for IVMTask::ErrorDescription
};

// Names follow ../shared/CONTRACT.md; Win32-derived values print as HRESULT_FROM_WIN32(...)
// because that is how Virtual PC's documentation names them.
constexpr std::array<HresultInfo, 20> kHresults{{
    {S_OK, "S_OK", "The operation completed successfully."},
    {S_FALSE, "S_FALSE", "The operation succeeded but does not apply in the current state."},
    {E_NOTIMPL, "E_NOTIMPL", "The operation is not implemented."},
    {E_POINTER, "E_POINTER", "A required output pointer was NULL."},
    {E_FAIL, "E_FAIL", "The operation failed."},
    {E_INVALIDARG, "E_INVALIDARG", "One or more arguments are not valid."},
    {DISP_E_EXCEPTION, "DISP_E_EXCEPTION",
     "An unexpected error occurred (for example, the connection to the guest integration components broke)."},
    {E_ACCESSDENIED, "HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)",
     "The caller does not have execute access to this virtual machine."},
    {E_NOT_READY, "HRESULT_FROM_WIN32(ERROR_NOT_READY)", "The guest operating system is not ready."},
    {E_BUSY, "HRESULT_FROM_WIN32(ERROR_BUSY)", "Another operation of the same kind is already in progress."},
    {E_SHUTDOWN_IN_PROGRESS, "HRESULT_FROM_WIN32(ERROR_SHUTDOWN_IN_PROGRESS)",
     "A shutdown is already in progress in the guest operating system."},
    {E_MACHINE_LOCKED, "HRESULT_FROM_WIN32(ERROR_MACHINE_LOCKED)",
     "The guest operating system is locked and the request was not forced."},
    {E_NO_SUCH_LOGON_SESSION, "HRESULT_FROM_WIN32(ERROR_NO_SUCH_LOGON_SESSION)",
     "Nobody is logged on to the guest operating system."},
    {E_INVALID_STATE, "HRESULT_FROM_WIN32(ERROR_INVALID_STATE)",
     "The request is not valid in the current state."},
    {VM_E_TIMED_OUT, "VM_E_TIMED_OUT", "The operation did not complete in a timely manner."},
    {VM_E_VM_NOT_RUNNING, "VM_E_VM_NOT_RUNNING", "The virtual machine must be running to perform this operation."},
    {VM_E_VM_UNKNOWN, "VM_E_VM_UNKNOWN", "The virtual machine or its configuration is unknown."},
    {VM_E_ADDITIONS_NOT_AVAIL, "VM_E_ADDITIONS_NOT_AVAIL",
     "The integration components are not available in the guest operating system."},
    {VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "VM_E_ADDITIONS_FEATURE_NOT_AVAIL",
     "The required integration feature is not available in the guest operating system."},
    {VM_E_VM_PAUSED, "VM_E_VM_PAUSED", "The virtual machine is paused."},
}};

const HresultInfo* find(HRESULT value) {
  for (const auto& info : kHresults) {
    if (info.value == value) return &info;
  }
  return nullptr;
}

}  // namespace

std::string_view hresult_name(HRESULT value) {
  const HresultInfo* info = find(value);
  return info != nullptr ? info->name : std::string_view{};
}

std::string hresult_hex(HRESULT value) { return fmt::format("0x{:08X}", static_cast<uint32_t>(value)); }

std::string describe_hresult(HRESULT value) {
  std::string_view name = hresult_name(value);
  if (name.empty()) return hresult_hex(value);
  return fmt::format("{} ({})", name, hresult_hex(value));
}

std::string_view hresult_message(HRESULT value) {
  const HresultInfo* info = find(value);
  if (info != nullptr) return info->message;
  return succeeded(value) ? "The operation succeeded." : "The operation failed with an unrecognised error.";
}

}  // namespace kvpc
