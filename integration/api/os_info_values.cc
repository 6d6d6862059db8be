#include "integration/api/os_info_values.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace kvpc {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::optional<int64_t> integer_field(const std::map<std::string, std::string>& os_info,
                                     std::string_view key, int64_t min, int64_t max) {
  const auto it = os_info.find(std::string(key));
  if (it == os_info.end()) return std::nullopt;
  return parse_guest_integer(it->second, min, max);
}

}  // namespace

std::optional<bool> parse_guest_bool(std::string_view text) {
  for (std::string_view yes : {"1", "true", "yes"}) {
    if (equals_ignoring_case(text, yes)) return true;
  }
  for (std::string_view no : {"0", "false", "no"}) {
    if (equals_ignoring_case(text, no)) return false;
  }
  return std::nullopt;
}

std::optional<int64_t> parse_guest_integer(std::string_view text, int64_t min, int64_t max) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  // from_chars accepts a leading '-'; the agent's values are never negative.
  if (text.empty() || text.front() == '-') return std::nullopt;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<GUESTOSVERSIONINFOEX> version_info_from_os_info(
    const std::map<std::string, std::string>& os_info) {
  using namespace os_info_key;
  constexpr int64_t kLongMax = std::numeric_limits<int32_t>::max();
  const auto major = integer_field(os_info, kOSMajorVersion, 0, kLongMax);
  const auto minor = integer_field(os_info, kOSMinorVersion, 0, kLongMax);
  const auto build = integer_field(os_info, kOSBuildNumber, 0, kLongMax);
  const auto platform = integer_field(os_info, kOSPlatformId, 0, kLongMax);
  const auto sp_major = integer_field(os_info, kServicePackMajor, 0, 0x7FFF);
  const auto sp_minor = integer_field(os_info, kServicePackMinor, 0, 0x7FFF);
  // The SDK's wSuiteMask is a 16-bit mask in a `short`: 0x8000 (VER_SUITE_WH_SERVER) included.
  const auto suite = integer_field(os_info, kSuiteMask, 0, 0xFFFF);
  const auto product = integer_field(os_info, kProductType, 0, 0xFF);
  const auto csd = os_info.find(std::string(kCSDVersion));
  if (!major || !minor || !build || !platform || !sp_major || !sp_minor || !suite || !product ||
      csd == os_info.end()) {
    return std::nullopt;
  }
  GUESTOSVERSIONINFOEX info;
  info.dwMajorVersion = static_cast<int32_t>(*major);
  info.dwMinorVersion = static_cast<int32_t>(*minor);
  info.dwBuildNumber = static_cast<int32_t>(*build);
  info.dwPlatformId = static_cast<int32_t>(*platform);
  info.szCSDVersion = csd->second;
  info.wServicePackMajor = static_cast<int16_t>(*sp_major);
  info.wServicePackMinor = static_cast<int16_t>(*sp_minor);
  info.wSuiteMask = static_cast<int16_t>(static_cast<uint16_t>(*suite));
  info.wProductType = static_cast<uint8_t>(*product);
  return info;
}

}  // namespace kvpc
