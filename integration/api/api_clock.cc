#include "integration/api/api_clock.h"

namespace kvpc {
namespace {

class SteadyApiClock final : public ApiClock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }

  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  time_point until) override {
    // wait_until(max) would overflow inside the library's conversion to a timespec.
    if (until == time_point::max()) {
      cv.wait(lock);
    } else {
      cv.wait_until(lock, until);
    }
  }
};

}  // namespace

std::shared_ptr<ApiClock> ApiClock::steady() {
  static const std::shared_ptr<ApiClock> clock = std::make_shared<SteadyApiClock>();
  return clock;
}

ApiClock::time_point saturating_add(ApiClock::time_point now, std::chrono::milliseconds delay) {
  if (delay <= std::chrono::milliseconds::zero()) return now;
  // Compare in milliseconds: converting a huge delay to the clock's nanoseconds would overflow.
  const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(ApiClock::time_point::max() - now);
  if (delay >= room) return ApiClock::time_point::max();
  return now + std::chrono::duration_cast<ApiClock::time_point::duration>(delay);
}

}  // namespace kvpc
