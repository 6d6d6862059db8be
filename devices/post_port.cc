#include "devices/post_port.h"

#include <chrono>
#include <utility>

#include "devices/port_lanes.h"

namespace kvpc {
namespace {

NanosecondClock steady_clock_from_now() {
  const auto start = std::chrono::steady_clock::now();
  return [start] {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  };
}

}  // namespace

PostPort::PostPort(NanosecondClock clock) : clock_(clock ? std::move(clock) : steady_clock_from_now()) {}

void PostPort::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  read_byte_lanes(offset, data, kPortCount, [this](uint64_t) { return last_code_; });
}

void PostPort::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  write_byte_lanes(offset, data, kPortCount, [this](uint64_t, uint8_t code) {
    ring_.push_overwriting(PostCode{clock_(), code});
    last_code_ = code;
    ++total_writes_;
  });
}

std::vector<PostCode> PostPort::entries() const {
  std::lock_guard lock(mutex_);
  std::vector<PostCode> copy;
  copy.reserve(ring_.size());
  for (size_t i = 0; i < ring_.size(); ++i) copy.push_back(ring_.at(i));
  return copy;
}

uint8_t PostPort::last_code() const {
  std::lock_guard lock(mutex_);
  return last_code_;
}

uint64_t PostPort::total_writes() const {
  std::lock_guard lock(mutex_);
  return total_writes_;
}

}  // namespace kvpc
