#include "devices/system_control_port_a.h"

#include "devices/port_lanes.h"

namespace kvpc {

void SystemControlPortA::read(uint64_t offset, std::span<uint8_t> data) {
  read_byte_lanes(offset, data, kPortCount, [this](uint64_t) { return value_.load(std::memory_order_relaxed); });
}

void SystemControlPortA::write(uint64_t offset, std::span<const uint8_t> data) {
  write_byte_lanes(offset, data, kPortCount, [this](uint64_t, uint8_t value) {
    value_.store(static_cast<uint8_t>(value & ~kFastReset), std::memory_order_relaxed);
    if ((value & kFastReset) != 0) power_.request_reset();
  });
}

}  // namespace kvpc
