#include "devices/ps2_mouse.h"

#include <algorithm>

namespace kvpc {
namespace {
constexpr uint8_t kAck = 0xFA, kResend = 0xFE, kSelfTestOk = 0xAA, kMouseId = 0x00;
}  // namespace

void Ps2Mouse::reset() {
  output_.clear();
  pending_command_ = 0;
  sample_rate_ = 100;
  resolution_ = 2;
  scaling_2to1_ = false;
  reporting_ = false;
  remote_ = false;
  pending_dx_ = pending_dy_ = 0;
}

void Ps2Mouse::queue(uint8_t byte) { (void)output_.push(byte); }

void Ps2Mouse::queue_packet(int dx, int dy) {
  if (output_.space() < 3) return;  // the guest is not reading: drop motion, never half a packet
  // Byte 0: buttons, bit 3 always set, X/Y sign bits 4/5; then X and Y as 9-bit two's complement.
  uint8_t head = static_cast<uint8_t>(0x08 | (buttons_ & 7));
  if (dx < 0) head |= 0x10;
  if (dy < 0) head |= 0x20;
  queue(head);
  queue(static_cast<uint8_t>(dx));
  queue(static_cast<uint8_t>(dy));
}

void Ps2Mouse::motion(int dx, int dy, uint8_t buttons) {
  buttons_ = buttons & 7;
  if (remote_) {
    pending_dx_ = std::clamp(pending_dx_ + dx, -255, 255);
    pending_dy_ = std::clamp(pending_dy_ + dy, -255, 255);
    return;
  }
  if (!reporting_) return;
  do {
    const int step_x = std::clamp(dx, -255, 255), step_y = std::clamp(dy, -255, 255);
    queue_packet(step_x, step_y);
    dx -= step_x;
    dy -= step_y;
  } while (dx != 0 || dy != 0);
}

void Ps2Mouse::receive(uint8_t byte) {
  if (pending_command_ != 0) {
    const uint8_t command = pending_command_;
    pending_command_ = 0;
    if (command == 0xF3) sample_rate_ = byte;
    if (command == 0xE8) resolution_ = byte & 3;
    queue(kAck);
    return;
  }
  switch (byte) {
    case 0xE6: scaling_2to1_ = false; queue(kAck); return;
    case 0xE7: scaling_2to1_ = true; queue(kAck); return;
    case 0xE8: case 0xF3: pending_command_ = byte; queue(kAck); return;
    case 0xE9:  // status request: mode/enable/scaling/buttons, resolution, sample rate
      queue(kAck);
      queue(static_cast<uint8_t>((remote_ ? 0x40 : 0) | (reporting_ ? 0x20 : 0) | (scaling_2to1_ ? 0x10 : 0) |
                                 (buttons_ & 1 ? 4 : 0) | (buttons_ & 4 ? 2 : 0) | (buttons_ & 2 ? 1 : 0)));
      queue(resolution_);
      queue(sample_rate_);
      return;
    case 0xEA: remote_ = false; queue(kAck); return;
    case 0xEB:
      queue(kAck);
      queue_packet(pending_dx_, pending_dy_);
      pending_dx_ = pending_dy_ = 0;
      return;
    case 0xF0: remote_ = true; queue(kAck); return;
    case 0xF2: queue(kAck); queue(kMouseId); return;
    case 0xF4: reporting_ = true; queue(kAck); return;
    case 0xF5: reporting_ = false; queue(kAck); return;
    case 0xF6:
      sample_rate_ = 100;
      resolution_ = 2;
      scaling_2to1_ = false;
      reporting_ = false;
      queue(kAck);
      return;
    case 0xFF:
      reset();
      queue(kAck);
      queue(kSelfTestOk);
      queue(kMouseId);
      return;
    default: queue(kResend); return;
  }
}

}  // namespace kvpc
