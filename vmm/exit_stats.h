// ExitStats: always-on per-vCPU counters of what the guest made the VMM do.
//
// Fixed arrays, no allocation. Each vCPU owns one ExitStats and is its only writer, so an
// increment is a relaxed load+store (no locked instruction); readers on other threads
// (`kvpc stats`, the control socket) take relaxed loads and may see a count a few exits
// stale, never a torn one.
//
// Per device range (the PioBus/MmioBus registration index, so lookups stay one indexed
// store): reads, writes, and a histogram of the time the device took to answer, in TSC
// cycles, log2 buckets (bucket b counts answers of [2^b, 2^(b+1)) cycles; the last bucket
// also takes everything longer). Reading the TSC twice costs ~30 ns per access on the
// development VM, measured in tests/bench/exit_path_bench.cc (docs/performance.md). Ranges past kRanges share the last slot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace kvpc {

class Counter {
 public:
  void increment() { value_.store(value_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct DeviceExitStats {
  static constexpr size_t kTimeBuckets = 32;
  Counter reads;
  Counter writes;
  std::array<Counter, kTimeBuckets> cycles_log2;
  Counter cycles_total;

  void record(bool write, uint64_t cycles) {
    (write ? writes : reads).increment();
    size_t bucket = cycles == 0 ? 0 : static_cast<size_t>(63 - __builtin_clzll(cycles));
    cycles_log2[bucket < kTimeBuckets ? bucket : kTimeBuckets - 1].increment();
    cycles_total.add(cycles);
  }
};

struct ExitStats {
  static constexpr size_t kRanges = 64;  // per bus; range i of PioBus::ranges()/MmioBus::ranges()
  std::array<DeviceExitStats, kRanges> pio_ranges;
  std::array<DeviceExitStats, kRanges> mmio_ranges;
  static size_t range_slot(size_t index) { return index < kRanges ? index : kRanges - 1; }

  static constexpr size_t kReasons = 64;  // KVM exit reasons fit well below this
  std::array<Counter, kReasons> by_reason;
  Counter unknown_reason;
  Counter pio_reads;   // port accesses (one per element of string I/O)
  Counter pio_writes;
  Counter mmio_reads;
  Counter mmio_writes;
  Counter unclaimed_pio;
  Counter unclaimed_mmio;
  Counter interrupted;  // KVM_RUN returned EINTR (kicks)
};

}  // namespace kvpc
