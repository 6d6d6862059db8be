// GuestParameterStore: the per-VM name -> value store behind IVMGuestOS::SetParameter and
// GetParameter. Virtual PC kept these under the guest's registry key
// HKLM\SOFTWARE\Microsoft\Virtual Machine\Guest\Parameters; kvpc's protocol has no parameter
// message, so kvpc keeps them on the host, for the VM's lifetime (docs/api.md). Like registry
// value names, names compare case-insensitively (ASCII) and keep the case they were first set
// with.
//
// Concurrency contract: every member is safe from any thread (one mutex).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace kvpc {

// Virtual PC's rule: 1..255 characters, no backslash. kvpc counts UTF-8 code points and also
// refuses NUL (it would silently truncate the name in a C string).
bool is_valid_parameter_name(std::string_view name);

class GuestParameterStore {
 public:
  // Bounds so one caller cannot grow the VMM without limit.
  static constexpr size_t kMaxParameters = 1024;
  static constexpr size_t kMaxValueBytes = 64 * 1024;

  // False when the name is invalid, the value too long, or the store is full (new names only).
  bool set(std::string_view name, std::string_view value);
  // nullopt when the name was never set.
  std::optional<std::string> get(std::string_view name) const;
  size_t size() const;

 private:
  struct Entry {
    std::string name;  // as first set
    std::string value;
  };
  static std::string key_of(std::string_view name);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // key: ASCII-lowercased name
};

}  // namespace kvpc
