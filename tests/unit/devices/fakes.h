// Test doubles and port helpers shared by the device tests.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "vmm/io_device.h"
#include "vmm/irq_line.h"
#include "vmm/power_control.h"

namespace kvpc::testing {

// Records every level a device drives onto its interrupt line.
class RecordingIrqLine final : public IrqLine {
 public:
  void set_level(bool asserted) override {
    std::lock_guard lock(mutex_);
    levels_.push_back(asserted);
  }
  bool level() const {
    std::lock_guard lock(mutex_);
    return !levels_.empty() && levels_.back();
  }
  std::vector<bool> levels() const {
    std::lock_guard lock(mutex_);
    return levels_;
  }
  void forget() {
    std::lock_guard lock(mutex_);
    levels_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<bool> levels_;
};

// Records power-off statuses and reset requests.
class RecordingPowerControl final : public PowerControl {
 public:
  void request_poweroff(int exit_status) override {
    std::lock_guard lock(mutex_);
    poweroffs_.push_back(exit_status);
  }
  void request_reset() override {
    std::lock_guard lock(mutex_);
    ++resets_;
  }
  std::vector<int> poweroffs() const {
    std::lock_guard lock(mutex_);
    return poweroffs_;
  }
  int resets() const {
    std::lock_guard lock(mutex_);
    return resets_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<int> poweroffs_;
  int resets_ = 0;
};

// Port access helpers: value little-endian over `width` bytes, as the bus delivers it.
inline uint64_t read_port(IoDevice& device, uint64_t offset, size_t width = 1) {
  uint8_t bytes[8] = {0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5};  // the device must overwrite
  device.read(offset, std::span<uint8_t>(bytes, width));
  return load_le(std::span<const uint8_t>(bytes, width));
}

inline void write_port(IoDevice& device, uint64_t offset, uint64_t value, size_t width = 1) {
  uint8_t bytes[8] = {};
  store_le(std::span<uint8_t>(bytes, width), value);
  device.write(offset, std::span<const uint8_t>(bytes, width));
}

inline std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace kvpc::testing
