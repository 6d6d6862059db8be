// Ps2Keyboard: the keyboard behind the i8042's first port — its command set (reset and
// self-test, identify, scan code set select, LEDs, typematic, enable/disable, echo,
// defaults) and scan code set 2 output, fed by host key events given as USB HID usages
// (SDL scancodes are HID usages). Set 1 for the guest comes from the controller's
// translation (I8042, command byte bit 6) as on a real PC; a guest that selects set 1 on
// the keyboard itself (0xF0 0x01) gets set 1 straight from here.
//
// Concurrency contract: none inside; I8042 holds its lock around every call.
#pragma once

#include <cstdint>
#include <span>

#include "devices/fixed_ring.h"

namespace kvpc {

class Ps2Keyboard {
 public:
  // Set-2 make code of a HID usage: low byte the code, 0x100 set when it needs the E0
  // prefix; 0 when the key has no PS/2 equivalent (exposed for tests).
  static uint16_t set2_code(uint16_t hid_usage);
  // The i8042's set 2 -> set 1 translation of one code byte (not E0/E1/F0).
  static uint8_t translate_to_set1(uint8_t set2);

  void reset();
  // A byte the guest sent to the keyboard (through port 0x60 with no controller command).
  void receive(uint8_t byte);
  // A host key press/release; false when the key has no PS/2 code.
  bool key(uint16_t hid_usage, bool pressed);

  bool has_output() const { return !output_.empty(); }
  uint8_t pop_output() { return output_.pop(); }
  uint64_t overflows() const { return overflows_; }
  uint8_t scan_set() const { return scan_set_; }
  uint8_t leds() const { return leds_; }

 private:
  void queue(uint8_t byte);
  FixedRing<uint8_t, 64> output_;
  uint8_t pending_command_ = 0;  // a command waiting for its argument byte
  uint8_t scan_set_ = 2;
  uint8_t leds_ = 0;
  bool scanning_ = true;
  uint64_t overflows_ = 0;
};

}  // namespace kvpc
