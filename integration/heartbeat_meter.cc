#include "integration/heartbeat_meter.h"

#include <algorithm>

namespace kvpc {

HeartbeatMeter::HeartbeatMeter(std::chrono::milliseconds interval) : interval_(std::max(interval, kMinInterval)) {}

void HeartbeatMeter::prune(Clock::time_point now) {
  while (!beats_.empty() && now - beats_.front().sent > kWindow) beats_.pop_front();
  // A clock that jumps backwards (tests, suspend) cannot grow the deque past its bound.
  size_t cap = static_cast<size_t>(std::chrono::milliseconds(kWindow) / kMinInterval) + 1;
  while (beats_.size() > cap) beats_.pop_front();
}

void HeartbeatMeter::on_sent(uint64_t sequence, uint32_t transaction_id, Clock::time_point now) {
  beats_.push_back(Beat{sequence, transaction_id, now, false});
  prune(now);
}

bool HeartbeatMeter::on_answer(uint32_t transaction_id, uint64_t answered_value, Clock::time_point now) {
  for (auto& beat : beats_) {
    if (beat.transaction_id != transaction_id) continue;
    if (beat.answered || answered_value != beat.sequence + 1) return false;
    beat.answered = true;
    last_answer_ = now;
    ++answered_total_;
    return true;
  }
  return false;
}

HeartbeatStatus HeartbeatMeter::status(Clock::time_point now) const {
  HeartbeatStatus result;
  result.beats_answered = answered_total_;
  result.heartbeating = last_answer_ && now - *last_answer_ <= 2 * interval_;
  uint64_t expected = 0;
  uint64_t answered = 0;
  for (const auto& beat : beats_) {
    if (now - beat.sent > kWindow) continue;
    if (beat.answered) {
      ++answered;
      ++expected;
    } else if (now - beat.sent >= interval_) {
      ++expected;
    }
  }
  result.percentage = expected == 0 ? 0 : static_cast<uint32_t>(answered * 100 / expected);
  return result;
}

void HeartbeatMeter::clear() {
  beats_.clear();
  last_answer_.reset();
}

}  // namespace kvpc
