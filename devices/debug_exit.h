// DebugExit: QEMU's isa-debug-exit (port 0x501, 2 ports as QEMU's default iosize).
//
// A write of value v at any offset and width powers the VM off with exit status
// (v << 1) | 1, so a guest can never report 0 through it (0 is reserved for a clean power
// off). v is the whole access, little-endian; the status is computed in 32 bits (as
// QEMU's exit() argument is an int) and the process exit code keeps its low 8 bits.
// Reads return 0 in every byte.
//
// Concurrency contract: no state of its own; PowerControl may be called from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vmm/io_device.h"
#include "vmm/power_control.h"

namespace kvpc {

class DebugExit final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 2;

  // power must outlive the device.
  explicit DebugExit(PowerControl& power) : power_(power) {}

  // The exit status a write of value produces.
  static int exit_status_for(uint64_t value);

  std::string_view name() const override { return "debug-exit"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  PowerControl& power_;
};

}  // namespace kvpc
