// ExitStats: always-on per-vCPU counters of what the guest made the VMM do.
//
// Fixed arrays, no allocation. Each vCPU owns one ExitStats and is its only writer, so an
// increment is a relaxed load+store (no locked instruction); readers on other threads
// (`kvpc stats`, the control socket) take relaxed loads and may see a count a few exits
// stale, never a torn one.
//
// Per device range (the PioBus/MmioBus registration index, so lookups stay one indexed
// store): exact reads and writes, and a histogram of the time the device took to answer, in
// TSC cycles, log2 buckets (bucket b counts answers of [2^b, 2^(b+1)) cycles; the last bucket
// also takes everything longer). Ranges past kRanges share the last slot.
//
// Why the time is sampled: reading the TSC twice costs ~30 ns per access on the development
// VM (tests/bench/exit_path_bench.cc, docs/performance.md) — as much as the rest of kvpc's
// exit path ten times over. So only every `timing_period`-th access of a vCPU is timed (the
// first one always), which keeps statistics "always on and effectively free" while the
// histogram still shows each device's distribution; `timed` says how many samples it holds.
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
  Counter timed;  // accesses whose answer time is in the histogram (a sample of reads + writes)
  std::array<Counter, kTimeBuckets> cycles_log2;
  Counter cycles_total;

  void count(bool write) { (write ? writes : reads).increment(); }
  void time(uint64_t cycles) {
    timed.increment();
    size_t bucket = cycles == 0 ? 0 : static_cast<size_t>(63 - __builtin_clzll(cycles));
    cycles_log2[bucket < kTimeBuckets ? bucket : kTimeBuckets - 1].increment();
    cycles_total.add(cycles);
  }
  void record(bool write, uint64_t cycles) {
    count(write);
    time(cycles);
  }
};

struct ExitStats {
  static constexpr size_t kRanges = 64;  // per bus; range i of PioBus::ranges()/MmioBus::ranges()
  std::array<DeviceExitStats, kRanges> pio_ranges;
  std::array<DeviceExitStats, kRanges> mmio_ranges;
  static size_t range_slot(size_t index) { return index < kRanges ? index : kRanges - 1; }

  // Timing samples (see the top of this file). Plain fields: only the owning vCPU thread
  // touches them. Tests set timing_period to 1 to time every access.
  static constexpr uint32_t kDefaultTimingPeriod = 16;
  uint32_t timing_period = kDefaultTimingPeriod;
  uint32_t until_timed = 0;
  bool take_timing_sample() {
    if (until_timed != 0) {
      --until_timed;
      return false;
    }
    until_timed = timing_period - 1;
    return true;
  }

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
