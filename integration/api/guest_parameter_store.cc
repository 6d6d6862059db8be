#include "integration/api/guest_parameter_store.h"

#include <algorithm>

namespace kvpc {

bool is_valid_parameter_name(std::string_view name) {
  // UTF-8 code points = bytes that are not continuation bytes (10xxxxxx).
  const auto characters = std::count_if(name.begin(), name.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
  if (characters < 1 || characters > 255) return false;
  return name.find('\\') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::string GuestParameterStore::key_of(std::string_view name) {
  std::string key(name);
  std::transform(key.begin(), key.end(), key.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return key;
}

bool GuestParameterStore::set(std::string_view name, std::string_view value) {
  if (!is_valid_parameter_name(name) || value.size() > kMaxValueBytes) return false;
  std::lock_guard lock(mutex_);
  const std::string key = key_of(name);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.value = std::string(value);
    return true;
  }
  if (entries_.size() >= kMaxParameters) return false;
  entries_.emplace(key, Entry{std::string(name), std::string(value)});
  return true;
}

std::optional<std::string> GuestParameterStore::get(std::string_view name) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key_of(name));
  if (it == entries_.end()) return std::nullopt;
  return it->second.value;
}

size_t GuestParameterStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace kvpc
