// What the agent's protocol engine needs from the world below it: the device's BAR0 registers,
// a way to wait for its interrupt, and a guest-physically contiguous ring area it can write.
//
// Production: SysfsPciDevice (BAR0 through /sys/bus/pci/devices/*/resource0, the interrupt
// through uio_pci_generic or a bounded poll) and HugePageRing (a pinned page whose physical
// address comes from /proc/self/pagemap). Tests: the real kvpc IntegrationDevice's BAR0 and a
// slice of a real GuestMemory, so the agent's ring code runs against the host's
// (tests/unit/agent/). The engine never assumes which one it has.
#pragma once

#include <chrono>
#include <cstdint>

namespace kvpc::agent {

class Device {
 public:
  virtual ~Device() = default;
  virtual uint32_t read32(uint32_t offset) = 0;
  virtual void write32(uint32_t offset, uint32_t value) = 0;
  // Blocks until the device may have something for us (its interrupt, or `timeout` passed).
  // Spurious returns are fine: the engine reads ISR and the rings every time.
  virtual void wait(std::chrono::milliseconds timeout) = 0;
};

// The ring area: `pages` 4 KiB pages at `base` in our address space, at `bus_address` for the
// device. Page aligned, physically contiguous, and pinned for as long as the link is attached.
struct RingMemory {
  uint8_t* base = nullptr;
  uint64_t bus_address = 0;
  uint32_t pages = 0;
};

}  // namespace kvpc::agent
