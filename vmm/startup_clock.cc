#include "vmm/startup_clock.h"

#include <atomic>

namespace kvpc {

namespace {
std::atomic<int64_t> main_entered_ns{0};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void mark_main_entered() { main_entered_ns.store(now_ns()); }

std::optional<std::chrono::nanoseconds> since_main_entered() {
  int64_t start = main_entered_ns.load();
  if (start == 0) return std::nullopt;
  return std::chrono::nanoseconds(now_ns() - start);
}

}  // namespace kvpc
