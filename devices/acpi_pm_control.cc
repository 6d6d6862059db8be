#include "devices/acpi_pm_control.h"

#include "devices/port_lanes.h"

namespace kvpc {

void AcpiPmControl::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  read_byte_lanes(offset, data, kPortCount,
                  [this](uint64_t port) { return static_cast<uint8_t>(value_ >> (8 * port)); });
}

void AcpiPmControl::write(uint64_t offset, std::span<const uint8_t> data) {
  bool sleep_requested = false;
  {
    std::lock_guard lock(mutex_);
    uint16_t written = value_;
    write_byte_lanes(offset, data, kPortCount, [&written](uint64_t port, uint8_t byte) {
      const unsigned shift = 8 * static_cast<unsigned>(port);
      written = static_cast<uint16_t>((written & ~(0xFFu << shift)) | (unsigned{byte} << shift));
    });
    sleep_requested = (written & kSleepEnable) != 0;
    value_ = static_cast<uint16_t>(written & ~kSleepEnable);
  }
  if (sleep_requested) power_.request_poweroff(0);
}

uint16_t AcpiPmControl::value() const {
  std::lock_guard lock(mutex_);
  return value_;
}

}  // namespace kvpc
