// Reading the guest agent's os-info strings (docs/integration-protocol.md section 8) as the
// typed values IVMGuestOS answers with. A value that does not parse counts as not reported:
// the API never makes one up (CONTRACT Decision).
//
// Concurrency contract: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "integration/api/vm_types.h"

namespace kvpc {

// os-info keys the API reads.
namespace os_info_key {
inline constexpr std::string_view kComputerName = "ComputerName";
inline constexpr std::string_view kOSName = "OSName";
inline constexpr std::string_view kOSMajorVersion = "OSMajorVersion";
inline constexpr std::string_view kOSMinorVersion = "OSMinorVersion";
inline constexpr std::string_view kOSBuildNumber = "OSBuildNumber";
inline constexpr std::string_view kOSVersion = "OSVersion";
inline constexpr std::string_view kOSPlatformId = "OSPlatformId";
inline constexpr std::string_view kCSDVersion = "CSDVersion";
inline constexpr std::string_view kServicePackMajor = "ServicePackMajor";
inline constexpr std::string_view kServicePackMinor = "ServicePackMinor";
inline constexpr std::string_view kSuiteMask = "SuiteMask";
inline constexpr std::string_view kProductType = "ProductType";
inline constexpr std::string_view kIntegrationComponentsVersion = "IntegrationComponentsVersion";
inline constexpr std::string_view kTerminalServicesInitialized = "TerminalServicesInitialized";
inline constexpr std::string_view kMultipleUserSessionsAllowed = "MultipleUserSessionsAllowed";
inline constexpr std::string_view kTerminalServerPort = "TerminalServerPort";
inline constexpr std::string_view kScreenLocked = "ScreenLocked";
}  // namespace os_info_key

// "1"/"true"/"yes" and "0"/"false"/"no", any case.
std::optional<bool> parse_guest_bool(std::string_view text);
// Decimal or 0x-hexadecimal, no sign, within [min, max].
std::optional<int64_t> parse_guest_integer(std::string_view text, int64_t min, int64_t max);

// Every field from its key; nullopt when any key is missing or does not parse.
std::optional<GUESTOSVERSIONINFOEX> version_info_from_os_info(
    const std::map<std::string, std::string>& os_info);

}  // namespace kvpc
