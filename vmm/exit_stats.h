// ExitStats: always-on per-vCPU counters of what the guest made the VMM do.
//
// Fixed arrays, no allocation. Each vCPU owns one ExitStats and is its only writer, so an
// increment is a relaxed load+store (no locked instruction); readers on other threads
// (`kvpc stats`, the control socket) take relaxed loads and may see a count a few exits
// stale, never a torn one.
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

struct ExitStats {
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
