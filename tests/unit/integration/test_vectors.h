// Finds a packet of the protocol_vectors blob (integration/protocol/vectors.asm) by name.
// Blob layout: "KVPV", u32 count, count x {char name[32], u32 offset, u32 length}, vectors.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guest-firmware/blobs.h"

namespace kvpc::testing {

struct NamedVector {
  std::string name;
  std::span<const uint8_t> bytes;
};

inline std::vector<NamedVector> all_vectors() {
  std::span<const uint8_t> blob = firmware::protocol_vectors();
  std::vector<NamedVector> out;
  if (blob.size() < 8 || std::memcmp(blob.data(), "KVPV", 4) != 0) return out;
  auto u32 = [&](size_t at) {
    return static_cast<uint32_t>(blob[at] | blob[at + 1] << 8 | blob[at + 2] << 16 | uint32_t{blob[at + 3]} << 24);
  };
  uint32_t count = u32(4);
  for (uint32_t i = 0; i < count; ++i) {
    size_t entry = 8 + size_t{i} * 40;
    if (entry + 40 > blob.size()) break;
    std::string name(reinterpret_cast<const char*>(blob.data() + entry), 32);
    name.resize(std::strlen(name.c_str()));
    uint32_t offset = u32(entry + 32);
    uint32_t length = u32(entry + 36);
    if (uint64_t{offset} + length > blob.size()) break;
    out.push_back({name, blob.subspan(offset, length)});
  }
  return out;
}

// The vector's bytes; empty when there is no such vector (the test then fails on comparison).
inline std::vector<uint8_t> vec(std::string_view name) {
  for (const auto& v : all_vectors()) {
    if (v.name == name) return {v.bytes.begin(), v.bytes.end()};
  }
  return {};
}

}  // namespace kvpc::testing
