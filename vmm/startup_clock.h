// StartupClock: when main() began, so start-up can be measured inside the process
// (exec-to-main is the dynamic loader's and the kernel's time, not kvpc's).
#pragma once

#include <chrono>
#include <optional>

namespace kvpc {

// Called first thing in main().
void mark_main_entered();
// Time since mark_main_entered(), if it was called.
std::optional<std::chrono::nanoseconds> since_main_entered();

}  // namespace kvpc
