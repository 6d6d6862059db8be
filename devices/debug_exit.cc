#include "devices/debug_exit.h"

#include <algorithm>

namespace kvpc {

int DebugExit::exit_status_for(uint64_t value) {
  return static_cast<int>(static_cast<uint32_t>((value << 1) | 1));
}

void DebugExit::read(uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), uint8_t{0}); }

void DebugExit::write(uint64_t, std::span<const uint8_t> data) {
  power_.request_poweroff(exit_status_for(load_le(data)));
}

}  // namespace kvpc
