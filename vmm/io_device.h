// IoDevice: what every emulated device looks like to the buses.
//
// A device is registered for a range of ports or guest-physical addresses and sees only
// offsets into that range, never absolute addresses, so the same class can sit anywhere.
//
// Concurrency contract: read() and write() are called on vCPU threads, possibly on several
// at once, and a device may also be touched by the event-loop thread (input arriving, a
// host-side request). Each device does its own locking and says how in its header. The
// buses hold no lock while calling a device.
//
// Exit-path contract: read() and write() must not allocate, block, or throw. A device that
// needs to do slow work hands it to the event loop (eventfd) and returns.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vmm/state_writer.h"

namespace kvpc {

class IoDevice {
 public:
  virtual ~IoDevice() = default;

  // Short, stable name used in statistics, traces and error messages ("uart0", "debugcon").
  virtual std::string_view name() const = 0;

  // data.size() is 1, 2, 4 or 8; little-endian, as the guest sees it. A read must fill
  // every byte of data (the bus pre-fills it with 0xFF, so leaving it means "all ones").
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;

  // `kvpc inspect`: the device's state (vmm/state_writer.h says what to write and how to
  // lock). Runs on the event-loop thread. The default says nothing beyond the bus ranges.
  virtual void describe(StateWriter&) {}
};

// Little-endian helpers for devices whose registers are wider than a byte.
inline uint64_t load_le(std::span<const uint8_t> data) {
  uint64_t value = 0;
  for (size_t i = 0; i < data.size() && i < 8; ++i) value |= uint64_t{data[i]} << (8 * i);
  return value;
}

inline void store_le(std::span<uint8_t> data, uint64_t value) {
  for (size_t i = 0; i < data.size() && i < 8; ++i) data[i] = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace kvpc
