// Byte-lane helpers shared by the 8-bit ISA devices.
//
// The port bus hands a device the whole access at the first port it owns: a 2-byte OUT to
// 0x3FF reaches the UART as (offset 7, 2 bytes). An ISA bus splits such an access into one
// byte cycle per port, so byte i of the access is addressed to port offset + i. These
// helpers do that split; bytes that land past the device's last port belong to ports
// nobody claimed and follow the bus policy for unclaimed ports (reads 0xFF, writes dropped).
//
// Header-only and allocation-free: they run on the exit path.
#pragma once

#include <cstdint>
#include <span>

namespace kvpc {

// Calls write_port(port_offset, byte) for every byte of data that lands on one of the
// device's port_count ports, in address order.
template <typename WritePort>
void write_byte_lanes(uint64_t offset, std::span<const uint8_t> data, uint64_t port_count,
                      WritePort&& write_port) {
  for (size_t lane = 0; lane < data.size(); ++lane) {
    const uint64_t port = offset + lane;
    if (port < port_count) write_port(port, data[lane]);
  }
}

// Fills every byte of data: read_port(port_offset) for bytes on the device's ports, 0xFF
// for bytes on ports past the device.
template <typename ReadPort>
void read_byte_lanes(uint64_t offset, std::span<uint8_t> data, uint64_t port_count,
                     ReadPort&& read_port) {
  for (size_t lane = 0; lane < data.size(); ++lane) {
    const uint64_t port = offset + lane;
    data[lane] = port < port_count ? read_port(port) : uint8_t{0xFF};
  }
}

}  // namespace kvpc
