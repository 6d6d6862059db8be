// Debugcon: the Bochs/QEMU debug console at port 0xE9 (one port).
//
// A byte written goes to the CharBackend; reading returns 0xE9, the value guests test to
// see whether the console is there. Of a wider access only the byte on port 0xE9 counts;
// the rest land on unclaimed ports (reads 0xFF, writes dropped).
//
// Concurrency contract: no state of its own; the CharBackend serialises writers.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "devices/char_backend.h"
#include "vmm/io_device.h"

namespace kvpc {

class Debugcon final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 1;
  static constexpr uint8_t kPresenceValue = 0xE9;

  // output must outlive the device.
  explicit Debugcon(CharBackend& output) : output_(output) {}

  std::string_view name() const override { return "debugcon"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  CharBackend& output_;
};

}  // namespace kvpc
