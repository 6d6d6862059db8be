// SystemControlPortA: PS/2 system control port A at 0x92 (one port).
//
// Bit 0 (fast reset): every write with bit 0 set asks for a CPU reset; the bit reads back
// 0 because the reset is already under way. Bit 1 (A20 gate) and the other bits are stored
// and read back; kvpc does not mask address line 20 (KVM does not either), so A20 is a
// recorded wish. Of a wider access only the byte on port 0x92 counts.
//
// Concurrency contract: the register is a std::atomic; request_reset() is called with no
// lock held.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>

#include "vmm/io_device.h"
#include "vmm/power_control.h"

namespace kvpc {

class SystemControlPortA final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 1;
  static constexpr uint8_t kFastReset = 0x01;
  static constexpr uint8_t kA20Enabled = 0x02;

  // power must outlive the device.
  explicit SystemControlPortA(PowerControl& power) : power_(power) {}

  std::string_view name() const override { return "sysctl-port-a"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  bool a20_enabled() const { return (value_.load(std::memory_order_relaxed) & kA20Enabled) != 0; }
  // Back to power-on state (A20 off). Used on VM reset.
  void reset() { value_.store(0, std::memory_order_relaxed); }

 private:
  PowerControl& power_;
  std::atomic<uint8_t> value_{0};  // bit 0 never stored
};

}  // namespace kvpc
