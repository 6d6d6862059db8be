// PioBus: the x86 port I/O space, dispatched through a direct table.
//
// One slot per port (65536 slots, one pointer each = 512 KiB): lookup on the exit path is a
// single indexed load, no search, no lock. The table comes zeroed from calloc, which for a
// block this size is a fresh anonymous mapping: only the pages of ports actually registered
// are ever touched (a handful), instead of 128 page faults at start-up.
//
// Unclaimed ports (the documented policy): reads return all ones, writes are dropped.
// Both are counted in unclaimed_reads()/unclaimed_writes() so a guest probing or
// misbehaving shows up in statistics.
//
// Concurrency contract (the table changes while vCPUs run when the guest moves a PCI BAR):
//   * A slot holds a pointer to an immutable Entry {device, base, length}, or null. vCPU
//     threads load it with an acquire load (std::atomic_ref) and use the entry without a lock;
//     writers publish a fully built entry with a release store, so a reader sees either the
//     old entry, the new one or null — never a device paired with another range's base.
//   * Entries are never freed while the bus lives, so a reader still holding an old entry stays
//     valid. A BAR moved back to a place it had before reuses that place's entry, so a guest
//     moving a BAR in a loop cannot grow kvpc's memory (published_entries() counts them).
//   * Writers (add/map/unmap) serialise on an internal mutex. add() is set-up only (before
//     freeze()); map()/unmap() are allowed at any time — PciBarMapper calls them from the
//     vCPU thread whose config-space write moved a BAR.
//   * A move is unmap-then-map, port by port. With several vCPUs, an access by another vCPU
//     to the moving range while it moves may reach the device at the old or the new address,
//     or find the port unclaimed (all ones / dropped) — as on hardware, where decoding a BAR
//     that is being reprogrammed is undefined; firmware and OSes quiesce a device first.
//     Under --accel emu there is one vCPU, so the move is atomic with respect to the guest.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
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
  void freeze() { frozen_.store(true, std::memory_order_relaxed); }
  bool frozen() const { return frozen_.load(std::memory_order_relaxed); }

  // Run-time (re)mapping for relocatable ranges (PCI BARs): same checks as add() except the
  // freeze; a range overlapping any claimed port is refused and nothing changes.
  Status map(IoDevice* device, uint16_t base, uint32_t length);
  // Releases [base, base+length) where `device` claims it with that base (other ports untouched).
  void unmap(IoDevice* device, uint16_t base, uint32_t length);

  // What a claimed port maps to. Immutable once published and never freed while the bus lives.
  struct Claim {
    IoDevice* device;
    uint16_t base;
    uint32_t length;
    uint16_t range;  // index into ranges() (statistics), stable across moves of the device
  };

  // Exit path. access sizes 1/2/4; data is filled (read) or consumed (write).
  // dispatch_*() return the claim that handled the access (nullptr: unclaimed), so the exit
  // handler gets the device, its base and its statistics slot from the one slot lookup that
  // dispatched — and sees the range as it was when the access was made, even if the access
  // itself moved a BAR. read()/write() are the same, returning just the device.
  const Claim* dispatch_read(uint16_t port, std::span<uint8_t> data);
  const Claim* dispatch_write(uint16_t port, std::span<const uint8_t> data);
  IoDevice* read(uint16_t port, std::span<uint8_t> data) { return device_of(dispatch_read(port, data)); }
  IoDevice* write(uint16_t port, std::span<const uint8_t> data) { return device_of(dispatch_write(port, data)); }

  IoDevice* device_at(uint16_t port) const;
  // Registration index (into ranges()) and base port of the range holding `port`, if claimed
  // (0 for an unclaimed port). A device moved by map() keeps its index.
  uint16_t range_index(uint16_t port) const;
  uint16_t range_base(uint16_t port) const;
  uint64_t unclaimed_reads() const { return unclaimed_reads_.load(std::memory_order_relaxed); }
  uint64_t unclaimed_writes() const { return unclaimed_writes_.load(std::memory_order_relaxed); }

  struct Range {
    IoDevice* device;
    uint16_t base;
    uint32_t length;
  };
  // A snapshot of the registered ranges, one per device registration, in registration order
  // (statistics index them). A relocated device is listed once, at its current base; one
  // unmapped at the moment is listed at its last base.
  std::vector<Range> ranges() const;
  // How many distinct claims were ever published (entries are kept for the bus's life).
  size_t published_entries() const {
    std::lock_guard lock(writer_mutex_);
    return entries_.size();
  }

 private:
  using Entry = Claim;
  static IoDevice* device_of(const Claim* claim) { return claim != nullptr ? claim->device : nullptr; }
  using Slot = const Entry*;  // accessed through std::atomic_ref; null = unclaimed
  struct FreeDeleter {
    void operator()(Slot* slots) const { std::free(slots); }
  };
  const Entry* load(uint16_t port) const;
  Status claim(IoDevice* device, uint16_t base, uint32_t length);  // writer mutex held

  std::unique_ptr<Slot[], FreeDeleter> slots_;
  mutable std::mutex writer_mutex_;                // guards entries_ and all slot stores
  std::vector<std::unique_ptr<Entry>> entries_;    // every entry ever published, never freed
  std::vector<Range> ranges_;                      // one per registered device (statistics)
  std::atomic<bool> frozen_{false};
  std::atomic<uint64_t> unclaimed_reads_{0};
  std::atomic<uint64_t> unclaimed_writes_{0};
};

}  // namespace kvpc
