#include "devices/debugcon.h"

#include "devices/port_lanes.h"

namespace kvpc {

void Debugcon::read(uint64_t offset, std::span<uint8_t> data) {
  read_byte_lanes(offset, data, kPortCount, [](uint64_t) { return kPresenceValue; });
}

void Debugcon::write(uint64_t offset, std::span<const uint8_t> data) {
  write_byte_lanes(offset, data, kPortCount,
                   [this](uint64_t, uint8_t byte) { output_.write(std::span<const uint8_t>(&byte, 1)); });
}

}  // namespace kvpc
