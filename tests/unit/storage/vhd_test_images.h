// Helpers for VHD tests: images built in memory, and field patches that keep (or break)
// the checksums on purpose.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "storage/backing_file.h"
#include "storage/vhd_format.h"
#include "storage/vhd_image.h"

namespace kvpc::testing {

inline std::vector<uint8_t> make_image(uint64_t size, bool fixed, uint32_t block_size = vhd::kDefaultBlockSize) {
  MemoryBackingFile file({});
  DiskCreateOptions options;
  options.size_bytes = size;
  options.fixed = fixed;
  options.block_size = block_size;
  auto created = create_image(file, options);
  if (!created) return {};
  return file.bytes();
}

inline void put_be(std::vector<uint8_t>& bytes, size_t offset, size_t width, uint64_t value) {
  for (size_t i = 0; i < width; ++i) bytes[offset + width - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
}

inline uint64_t get_be(const std::vector<uint8_t>& bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value = (value << 8) | bytes[offset + i];
  return value;
}

// Recomputes the checksum of the structure at `start` (footer: 512 bytes, checksum at 64;
// dynamic header: 1024 bytes, checksum at 36).
inline void fix_checksum(std::vector<uint8_t>& bytes, size_t start, size_t length, size_t checksum_offset) {
  auto sum = vhd::checksum(std::span<const uint8_t>(bytes.data() + start, length), checksum_offset);
  put_be(bytes, start + checksum_offset, 4, sum);
}

inline size_t trailing_footer(const std::vector<uint8_t>& bytes) { return bytes.size() - vhd::kFooterSize; }

inline std::unique_ptr<VhdImage> open_vhd(std::vector<uint8_t> bytes, bool read_only = false) {
  auto image = VhdImage::open(std::make_unique<MemoryBackingFile>(std::move(bytes), read_only));
  return image ? std::move(image).value() : nullptr;
}

inline std::vector<uint8_t> pattern(size_t length, uint8_t seed) {
  std::vector<uint8_t> bytes(length);
  for (size_t i = 0; i < length; ++i) bytes[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return bytes;
}

}  // namespace kvpc::testing
