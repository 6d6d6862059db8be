// FuzzInput: reads typed values off the front of a fuzzer's byte string.
//
// Every read succeeds: once the bytes run out it yields zeros (and empty spans), so a
// target can decode a whole "script" without checking lengths at each step and simply loop
// while !empty(). Values are little-endian, so a corpus file written by hand reads naturally.
//
// The fuzz targets and their replay runner are built with gcc as well as with clang, so
// this does not use libFuzzer's FuzzedDataProvider (a clang-only header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

namespace kvpc::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : bytes_(data, size) {}
  explicit FuzzInput(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool empty() const { return position_ >= bytes_.size(); }
  size_t remaining() const { return bytes_.size() - position_; }

  uint8_t u8() { return static_cast<uint8_t>(little_endian(1)); }
  uint16_t u16() { return static_cast<uint16_t>(little_endian(2)); }
  uint32_t u32() { return static_cast<uint32_t>(little_endian(4)); }
  uint64_t u64() { return little_endian(8); }
  bool flag() { return (u8() & 1) != 0; }

  // The next min(size, remaining()) bytes.
  std::span<const uint8_t> bytes(size_t size) {
    size_t n = size < remaining() ? size : remaining();
    auto out = bytes_.subspan(position_, n);
    position_ += n;
    return out;
  }
  // A length-prefixed chunk: one byte of length (scaled by `unit`), then that many bytes.
  std::span<const uint8_t> chunk(size_t unit = 1) { return bytes(size_t{u8()} * unit); }
  std::span<const uint8_t> rest() { return bytes(remaining()); }
  std::string_view text(size_t size) {
    auto b = bytes(size);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

 private:
  uint64_t little_endian(size_t size) {
    uint64_t value = 0;
    for (size_t i = 0; i < size && position_ < bytes_.size(); ++i) value |= uint64_t{bytes_[position_++]} << (8 * i);
    return value;
  }

  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
};

}  // namespace kvpc::fuzz

// A property the code under test promised and broke: print it and abort, which both
// libFuzzer and the replay runner report as a crash with the input that caused it.
#define KVPC_FUZZ_CHECK(condition)                                                                  \
  do {                                                                                              \
    if (!(condition)) {                                                                             \
      std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                                 \
    }                                                                                               \
  } while (0)
