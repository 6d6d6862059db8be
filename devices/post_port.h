// PostPort: the boot-progress (POST code) port at 0x80 (one port).
//
// Every byte written is recorded with a timestamp in a fixed ring of kCapacity entries;
// when the ring is full the oldest entry is overwritten. Reads return the last code
// written (0 before any). Linux also writes this port as an I/O delay, so the ring is
// expected to wrap; total_writes() says how many codes there were in all.
//
// Timestamps are nanoseconds since the VM started, from a clock given at construction
// (tests pass a fake). The default clock counts from the device's construction on the
// steady clock. Calling the clock must not allocate: it runs on the exit path.
//
// Concurrency contract: one std::mutex guards the ring; write() (vCPU threads) holds it
// while reading the clock and storing, so entries are in timestamp order. entries() and
// the other host-side accessors take it too.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "devices/fixed_ring.h"
#include "vmm/io_device.h"

namespace kvpc {

// Nanoseconds since the VM started.
using NanosecondClock = std::function<uint64_t()>;

struct PostCode {
  uint64_t timestamp_ns = 0;
  uint8_t code = 0;

  bool operator==(const PostCode&) const = default;
};

class PostPort final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 1;
  static constexpr size_t kCapacity = 1024;

  // An empty clock means "the steady clock, counted from now".
  explicit PostPort(NanosecondClock clock = {});

  std::string_view name() const override { return "post"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Host side: the recorded codes, oldest first (at most kCapacity).
  std::vector<PostCode> entries() const;
  uint8_t last_code() const;
  uint64_t total_writes() const;

 private:
  const NanosecondClock clock_;
  mutable std::mutex mutex_;
  FixedRing<PostCode, kCapacity> ring_;
  uint8_t last_code_ = 0;
  uint64_t total_writes_ = 0;
};

}  // namespace kvpc
