// HeartbeatMeter: what the host remembers about heartbeats to answer HeartbeatPercentage and
// IsHeartbeating (../shared/CONTRACT.md).
//
// Definition (docs/integration-device.md): over the past minute, percentage =
//   answered beats * 100 / expected beats, where a beat sent in that minute is "expected" once
// it was answered or its interval has passed without an answer (a beat sent a moment ago is
// not held against the guest yet). With the default 6 s interval a healthy agent scores 100
// from its first answered beat on, and an agent that stopped answering falls to 0 within a
// minute. heartbeating = a beat was answered within the last two intervals.
//
// Memory is bounded: only beats sent in the last minute are kept, and the interval is clamped
// to at least kMinInterval, so at most 60 s / kMinInterval + 1 entries.
//
// Concurrency contract: none; the owner (HostServices) locks. The clock is passed in so tests
// can simulate a minute in microseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

#include "integration/guest_services.h"

namespace kvpc {

class HeartbeatMeter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kMinInterval{100};
  static constexpr std::chrono::seconds kWindow{60};

  explicit HeartbeatMeter(std::chrono::milliseconds interval);

  void on_sent(uint64_t sequence, uint32_t transaction_id, Clock::time_point now);
  // The guest's BEAT response: true when it answers a beat still in the window
  // (matching transaction id, body == sequence + 1), false otherwise (counted by the caller).
  bool on_answer(uint32_t transaction_id, uint64_t answered_value, Clock::time_point now);
  HeartbeatStatus status(Clock::time_point now) const;
  void clear();
  std::chrono::milliseconds interval() const { return interval_; }

 private:
  struct Beat {
    uint64_t sequence;
    uint32_t transaction_id;
    Clock::time_point sent;
    bool answered;
  };
  void prune(Clock::time_point now);

  std::chrono::milliseconds interval_;
  std::deque<Beat> beats_;
  std::optional<Clock::time_point> last_answer_;
  uint64_t answered_total_ = 0;
};

}  // namespace kvpc
