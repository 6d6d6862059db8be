// Little-endian field access for image parsers.
//
// Image headers come from files the user points kvpc at, so every read is bounds-checked
// against the span and returns nullopt instead of touching a byte past its end. Offsets
// are uint64_t so that `offset + size` computed from untrusted 32-bit fields cannot wrap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace kvpc::boot {

// True when [offset, offset + length) lies inside a buffer of `size` bytes (no overflow).
constexpr bool range_fits(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

template <typename T>
std::optional<T> read_le(std::span<const uint8_t> bytes, uint64_t offset) {
  if (!range_fits(offset, sizeof(T), bytes.size())) return std::nullopt;
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<T>(bytes[offset + i]) << (8 * i));
  }
  return value;
}

inline std::optional<uint16_t> read_u16(std::span<const uint8_t> bytes, uint64_t offset) {
  return read_le<uint16_t>(bytes, offset);
}
inline std::optional<uint32_t> read_u32(std::span<const uint8_t> bytes, uint64_t offset) {
  return read_le<uint32_t>(bytes, offset);
}
inline std::optional<uint64_t> read_u64(std::span<const uint8_t> bytes, uint64_t offset) {
  return read_le<uint64_t>(bytes, offset);
}

// True when the bytes at `offset` equal `text` (and all of them are inside the span).
inline bool bytes_equal(std::span<const uint8_t> bytes, uint64_t offset, std::string_view text) {
  if (!range_fits(offset, text.size(), bytes.size())) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (bytes[offset + i] != static_cast<uint8_t>(text[i])) return false;
  }
  return true;
}

// Writers for host-side buffers that are later copied into guest memory in one piece.
// They grow the buffer when a field lies past its end, so a builder can never write out of
// bounds whatever order it fills fields in.
template <typename T>
void write_le(std::vector<uint8_t>& buffer, uint64_t offset, T value) {
  if (!range_fits(offset, sizeof(T), buffer.size())) buffer.resize(offset + sizeof(T));
  for (size_t i = 0; i < sizeof(T); ++i) buffer[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

inline void write_u16(std::vector<uint8_t>& b, uint64_t offset, uint16_t v) { write_le<uint16_t>(b, offset, v); }
inline void write_u32(std::vector<uint8_t>& b, uint64_t offset, uint32_t v) { write_le<uint32_t>(b, offset, v); }
inline void write_u64(std::vector<uint8_t>& b, uint64_t offset, uint64_t v) { write_le<uint64_t>(b, offset, v); }

inline void write_bytes(std::vector<uint8_t>& buffer, uint64_t offset, std::string_view text) {
  if (!range_fits(offset, text.size(), buffer.size())) buffer.resize(offset + text.size());
  for (size_t i = 0; i < text.size(); ++i) buffer[offset + i] = static_cast<uint8_t>(text[i]);
}

}  // namespace kvpc::boot
