// PioBus: the x86 port I/O space, dispatched through a direct table.
//
// One slot per port (65536 slots, 16 bytes each = 1 MiB): lookup on the exit path is a
// single indexed load, no search, no lock. The table comes zeroed from calloc, which for a
// block this size is a fresh anonymous mapping: only the pages of ports actually registered
// are ever touched (a handful), instead of 256 page faults at start-up. Registration happens during
// set-up, before any vCPU runs; after freeze() the table is read-only and shared by all
// vCPU threads without synchronisation.
//
// Unclaimed ports (the documented policy): reads return all ones, writes are dropped.
// Both are counted in unclaimed_reads()/unclaimed_writes() so a guest probing or
// misbehaving shows up in statistics.
#pragma once

#include <cstdlib>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/io_device.h"
#include "vmm/result.h"

namespace kvpc {

class PioBus {
 public:
  static constexpr uint32_t kPorts = 0x10000;

  PioBus();

  // Claims ports [base, base+length). Rejects zero length, ranges past 0xFFFF, overlap
  // with an earlier registration and registration after freeze().
  Status add(IoDevice* device, uint16_t base, uint32_t length);
  void freeze() { frozen_ = true; }
  bool frozen() const { return frozen_; }

  // Exit path. access sizes 1/2/4; data is filled (read) or consumed (write).
  // Returns the device that handled it, or nullptr when the port is unclaimed.
  IoDevice* read(uint16_t port, std::span<uint8_t> data);
  IoDevice* write(uint16_t port, std::span<const uint8_t> data);

  IoDevice* device_at(uint16_t port) const { return slots_[port].device; }
  // Registration index (into ranges()) and base port of the range holding `port`, if claimed.
  uint16_t range_index(uint16_t port) const { return slots_[port].range; }
  uint16_t range_base(uint16_t port) const { return slots_[port].base; }
  uint64_t unclaimed_reads() const { return unclaimed_reads_.load(std::memory_order_relaxed); }
  uint64_t unclaimed_writes() const { return unclaimed_writes_.load(std::memory_order_relaxed); }

  struct Range {
    IoDevice* device;
    uint16_t base;
    uint32_t length;
  };
  const std::vector<Range>& ranges() const { return ranges_; }

 private:
  struct Slot {  // all-zero = unclaimed
    IoDevice* device;
    uint16_t base;
    uint16_t range;  // index into ranges_ (statistics)
  };
  struct FreeDeleter {
    void operator()(Slot* slots) const { std::free(slots); }
  };
  std::unique_ptr<Slot[], FreeDeleter> slots_;
  std::vector<Range> ranges_;
  bool frozen_ = false;
  std::atomic<uint64_t> unclaimed_reads_{0};
  std::atomic<uint64_t> unclaimed_writes_{0};
};

}  // namespace kvpc
