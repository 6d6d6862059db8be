// HRESULT values kvpc answers with, exactly as Windows Virtual PC's SDK defines them
// (see ../shared/CONTRACT.md). Printed everywhere as "NAME (0x........)".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvpc {

using HRESULT = int32_t;

constexpr HRESULT hr(uint32_t value) { return static_cast<HRESULT>(value); }

inline constexpr HRESULT S_OK = hr(0x00000000);
inline constexpr HRESULT S_FALSE = hr(0x00000001);
inline constexpr HRESULT E_NOTIMPL = hr(0x80004001);
inline constexpr HRESULT E_POINTER = hr(0x80004003);
inline constexpr HRESULT E_FAIL = hr(0x80004005);
inline constexpr HRESULT E_INVALIDARG = hr(0x80070057);
inline constexpr HRESULT DISP_E_EXCEPTION = hr(0x80020009);
inline constexpr HRESULT E_ACCESSDENIED = hr(0x80070005);          // HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)
inline constexpr HRESULT E_NOT_READY = hr(0x80070015);             // HRESULT_FROM_WIN32(ERROR_NOT_READY)
inline constexpr HRESULT E_BUSY = hr(0x800700AA);                  // HRESULT_FROM_WIN32(ERROR_BUSY)
inline constexpr HRESULT E_SHUTDOWN_IN_PROGRESS = hr(0x8007045B);  // HRESULT_FROM_WIN32(ERROR_SHUTDOWN_IN_PROGRESS)
inline constexpr HRESULT E_MACHINE_LOCKED = hr(0x800704F7);        // HRESULT_FROM_WIN32(ERROR_MACHINE_LOCKED)
inline constexpr HRESULT E_NO_SUCH_LOGON_SESSION = hr(0x80070520); // HRESULT_FROM_WIN32(ERROR_NO_SUCH_LOGON_SESSION)
inline constexpr HRESULT E_INVALID_STATE = hr(0x8007139F);         // HRESULT_FROM_WIN32(ERROR_INVALID_STATE)
inline constexpr HRESULT VM_E_TIMED_OUT = hr(0xA0040202);
inline constexpr HRESULT VM_E_VM_NOT_RUNNING = hr(0xA0040206);
inline constexpr HRESULT VM_E_VM_UNKNOWN = hr(0xA0040207);
inline constexpr HRESULT VM_E_ADDITIONS_NOT_AVAIL = hr(0xA0040504);
inline constexpr HRESULT VM_E_ADDITIONS_FEATURE_NOT_AVAIL = hr(0xA0040505);
inline constexpr HRESULT VM_E_VM_PAUSED = hr(0xA0040507);

constexpr bool succeeded(HRESULT value) { return value >= 0; }
constexpr bool failed(HRESULT value) { return value < 0; }

// "S_OK", "VM_E_TIMED_OUT", ... or "" for a value kvpc has no name for.
std::string_view hresult_name(HRESULT value);
// "0x80070520"
std::string hresult_hex(HRESULT value);
// "HRESULT_FROM_WIN32(ERROR_NO_SUCH_LOGON_SESSION) (0x80070520)"; unknown values print as hex only.
std::string describe_hresult(HRESULT value);
// A sentence for ErrorDescription ("Nobody is logged on to the guest operating system.").
std::string_view hresult_message(HRESULT value);

}  // namespace kvpc
