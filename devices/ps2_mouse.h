// Ps2Mouse: a standard 3-button PS/2 mouse behind the i8042's aux port — its command set
// (reset, identify, sample rate, resolution, scaling, status request, stream/remote mode,
// enable/disable data reporting, read data) and 3-byte movement packets fed by host events.
//
// Concurrency contract: none inside; I8042 holds its lock around every call.
#pragma once

#include <cstdint>

#include "devices/fixed_ring.h"

namespace kvpc {

class Ps2Mouse {
 public:
  void reset();
  void receive(uint8_t byte);
  // Host motion (dx right, dy up, as PS/2 counts) and buttons (bit 0 left, 1 right, 2 middle).
  // Large motions are split into several packets so no count overflows.
  void motion(int dx, int dy, uint8_t buttons);

  bool has_output() const { return !output_.empty(); }
  uint8_t pop_output() { return output_.pop(); }
  bool reporting() const { return reporting_; }

 private:
  void queue(uint8_t byte);
  void queue_packet(int dx, int dy);
  FixedRing<uint8_t, 96> output_;
  uint8_t pending_command_ = 0;
  uint8_t sample_rate_ = 100;
  uint8_t resolution_ = 2;
  bool scaling_2to1_ = false;
  bool reporting_ = false;
  bool remote_ = false;
  uint8_t buttons_ = 0;
  int pending_dx_ = 0, pending_dy_ = 0;  // remote mode: motion since the last read
};

}  // namespace kvpc
