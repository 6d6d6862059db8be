// The header at the start of a kvpc64 image (docs/boot-protocol.md): parsing and every
// check that needs only the file, not the guest's memory.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vmm/result.h"

namespace kvpc {

inline constexpr std::string_view kKvpc64Magic = "KVPC64IM";
inline constexpr uint32_t kKvpc64Version = 1;
inline constexpr uint32_t kKvpc64HeaderBytes = 48;
inline constexpr uint64_t kKvpc64MinLoadAddress = 0x100000;
inline constexpr uint64_t kKvpc64LoadAlignment = 4096;

struct Kvpc64Header {
  uint32_t version = 0;
  uint32_t header_size = 0;
  uint64_t load_address = 0;
  uint64_t entry_offset = 0;
  uint64_t memory_size = 0;
  uint64_t stack_top = 0;  // as written in the file (0 = default)
};

// True when the image starts with the kvpc64 magic.
bool has_kvpc64_magic(std::span<const uint8_t> image);

// Reads and checks the header: size, magic, version, header_size, load_address alignment
// and minimum, memory_size >= file size without wrapping, entry_offset inside the file's
// bytes after the header. Placement in guest RAM is checked by the loader.
Result<Kvpc64Header> parse_kvpc64_header(std::span<const uint8_t> image);

}  // namespace kvpc
