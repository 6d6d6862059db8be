// MmioBus: guest-physical MMIO ranges, frozen into a sorted table after set-up.
//
// Lookup is a binary search over the frozen table, short-circuited by a per-caller
// last-hit cache (MmioBus::Cache lives in each vCPU, so vCPUs never share a cache line
// or a lock). Before freeze() only add() may be called; after it, only lookups.
//
// Unclaimed MMIO follows the port policy: reads return all ones, writes are dropped and
// counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/io_device.h"
#include "vmm/result.h"

namespace kvpc {

class MmioBus {
 public:
  struct Range {
    uint64_t base;
    uint64_t length;
    IoDevice* device;
  };
  // A vCPU-private memo of the last range hit.
  struct Cache {
    const Range* last = nullptr;
  };

  // Rejects null devices, zero length, overflow past 2^64, overlap, and add after freeze.
  Status add(IoDevice* device, uint64_t base, uint64_t length);
  void freeze() { frozen_ = true; }
  bool frozen() const { return frozen_; }

  // The last-hit check is inline: on a run of exits to one device (the common case) the
  // lookup costs two compares and no call (callgrind: docs/performance.md, "Profile").
  const Range* find(uint64_t gpa, Cache& cache) const {
    if (cache.last != nullptr && gpa - cache.last->base < cache.last->length) return cache.last;
    return find_uncached(gpa, cache);
  }

  IoDevice* read(uint64_t gpa, std::span<uint8_t> data, Cache& cache);
  IoDevice* write(uint64_t gpa, std::span<const uint8_t> data, Cache& cache);

  const std::vector<Range>& ranges() const { return ranges_; }
  // Index of a range returned by find() (or held in a Cache) in ranges().
  size_t index_of(const Range* range) const { return static_cast<size_t>(range - ranges_.data()); }

  uint64_t unclaimed_reads() const { return unclaimed_reads_.load(std::memory_order_relaxed); }
  uint64_t unclaimed_writes() const { return unclaimed_writes_.load(std::memory_order_relaxed); }

 private:
  const Range* find_uncached(uint64_t gpa, Cache& cache) const;

  std::vector<Range> ranges_;  // sorted by base, non-overlapping
  bool frozen_ = false;
  std::atomic<uint64_t> unclaimed_reads_{0};
  std::atomic<uint64_t> unclaimed_writes_{0};
};

}  // namespace kvpc
