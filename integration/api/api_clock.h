// ApiClock: the time source of the IVMTask machinery, injectable so tests can move time by
// hand instead of sleeping. Deadlines, acknowledgment windows and WaitForCompletion timeouts all
// read now() and block through wait_until(); nothing in the API calls steady_clock directly.
//
// Concurrency contract: implementations are safe from any thread. wait_until() is called with
// `lock` held (the lock that guards whatever `cv` signals) and returns with it held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace kvpc {

class ApiClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~ApiClock() = default;

  virtual time_point now() const = 0;

  // Blocks until `cv` is notified or now() reaches `until` (time_point::max() = no limit).
  // May return early (spurious wakeup): callers re-check their condition in a loop.
  virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          time_point until) = 0;

  // The real monotonic clock, shared by every VM that was not given another one.
  static std::shared_ptr<ApiClock> steady();
};

// now + delay without overflowing: a huge delay saturates at time_point::max() ("never").
ApiClock::time_point saturating_add(ApiClock::time_point now, std::chrono::milliseconds delay);

}  // namespace kvpc
