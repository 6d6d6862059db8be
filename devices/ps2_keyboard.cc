#include "devices/ps2_keyboard.h"

namespace kvpc {
namespace {

constexpr uint8_t kAck = 0xFA, kSelfTestOk = 0xAA, kResend = 0xFE, kEcho = 0xEE;
constexpr uint16_t kExtended = 0x100;

// Set 2 -> set 1, the table the i8042 applies when translation is on (codes 0x00-0x83).
uint8_t set1_of(uint8_t code) {
  switch (code) {
    case 0x01: return 0x43; case 0x03: return 0x3F; case 0x04: return 0x3D; case 0x05: return 0x3B;
    case 0x06: return 0x3C; case 0x07: return 0x58; case 0x09: return 0x44; case 0x0A: return 0x42;
    case 0x0B: return 0x40; case 0x0C: return 0x3E; case 0x0D: return 0x0F; case 0x0E: return 0x29;
    case 0x11: return 0x38; case 0x12: return 0x2A; case 0x14: return 0x1D; case 0x15: return 0x10;
    case 0x16: return 0x02; case 0x1A: return 0x2C; case 0x1B: return 0x1F; case 0x1C: return 0x1E;
    case 0x1D: return 0x11; case 0x1E: return 0x03; case 0x1F: return 0x5B; case 0x21: return 0x2E;
    case 0x22: return 0x2D; case 0x23: return 0x20; case 0x24: return 0x12; case 0x25: return 0x05;
    case 0x26: return 0x04; case 0x27: return 0x5C; case 0x29: return 0x39; case 0x2A: return 0x2F;
    case 0x2B: return 0x21; case 0x2C: return 0x14; case 0x2D: return 0x13; case 0x2E: return 0x06;
    case 0x2F: return 0x5D; case 0x31: return 0x31; case 0x32: return 0x30; case 0x33: return 0x23;
    case 0x34: return 0x22; case 0x35: return 0x15; case 0x36: return 0x07; case 0x3A: return 0x32;
    case 0x3B: return 0x24; case 0x3C: return 0x16; case 0x3D: return 0x08; case 0x3E: return 0x09;
    case 0x41: return 0x33; case 0x42: return 0x25; case 0x43: return 0x17; case 0x44: return 0x18;
    case 0x45: return 0x0B; case 0x46: return 0x0A; case 0x49: return 0x34; case 0x4A: return 0x35;
    case 0x4B: return 0x26; case 0x4C: return 0x27; case 0x4D: return 0x19; case 0x4E: return 0x0C;
    case 0x52: return 0x28; case 0x54: return 0x1A; case 0x55: return 0x0D; case 0x58: return 0x3A;
    case 0x59: return 0x36; case 0x5A: return 0x1C; case 0x5B: return 0x1B; case 0x5D: return 0x2B;
    case 0x61: return 0x56; case 0x66: return 0x0E; case 0x69: return 0x4F; case 0x6B: return 0x4B;
    case 0x6C: return 0x47; case 0x70: return 0x52; case 0x71: return 0x53; case 0x72: return 0x50;
    case 0x73: return 0x4C; case 0x74: return 0x4D; case 0x75: return 0x48; case 0x76: return 0x01;
    case 0x77: return 0x45; case 0x78: return 0x57; case 0x79: return 0x4E; case 0x7A: return 0x51;
    case 0x7B: return 0x4A; case 0x7C: return 0x37; case 0x7D: return 0x49; case 0x7E: return 0x46;
    case 0x83: return 0x41;
    default: return code;  // unknown codes pass through, as the controller's table does for its gaps
  }
}

}  // namespace

uint16_t Ps2Keyboard::set2_code(uint16_t usage) {
  static constexpr uint8_t kLetters[26] = {0x1C, 0x32, 0x21, 0x23, 0x24, 0x2B, 0x34, 0x33, 0x43, 0x3B, 0x42, 0x4B, 0x3A,
                                           0x31, 0x44, 0x4D, 0x15, 0x2D, 0x1B, 0x2C, 0x3C, 0x2A, 0x1D, 0x22, 0x35, 0x1A};
  static constexpr uint8_t kDigits[10] = {0x16, 0x1E, 0x26, 0x25, 0x2E, 0x36, 0x3D, 0x3E, 0x46, 0x45};
  static constexpr uint8_t kFunction[12] = {0x05, 0x06, 0x04, 0x0C, 0x03, 0x0B, 0x83, 0x0A, 0x01, 0x09, 0x78, 0x07};
  if (usage >= 4 && usage <= 29) return kLetters[usage - 4];
  if (usage >= 30 && usage <= 39) return kDigits[usage - 30];
  if (usage >= 58 && usage <= 69) return kFunction[usage - 58];
  switch (usage) {
    case 40: return 0x5A;  // Enter
    case 41: return 0x76;  // Escape
    case 42: return 0x66;  // Backspace
    case 43: return 0x0D;  // Tab
    case 44: return 0x29;  // Space
    case 45: return 0x4E;  // -
    case 46: return 0x55;  // =
    case 47: return 0x54;  // [
    case 48: return 0x5B;  // ]
    case 49: return 0x5D;  // backslash
    case 51: return 0x4C;  // ;
    case 52: return 0x52;  // '
    case 53: return 0x0E;  // `
    case 54: return 0x41;  // ,
    case 55: return 0x49;  // .
    case 56: return 0x4A;  // /
    case 57: return 0x58;  // Caps Lock
    case 71: return 0x7E;  // Scroll Lock
    case 73: return kExtended | 0x70;  // Insert
    case 74: return kExtended | 0x6C;  // Home
    case 75: return kExtended | 0x7D;  // Page Up
    case 76: return kExtended | 0x71;  // Delete
    case 77: return kExtended | 0x69;  // End
    case 78: return kExtended | 0x7A;  // Page Down
    case 79: return kExtended | 0x74;  // Right
    case 80: return kExtended | 0x6B;  // Left
    case 81: return kExtended | 0x72;  // Down
    case 82: return kExtended | 0x75;  // Up
    case 83: return 0x77;  // Num Lock
    case 84: return kExtended | 0x4A;  // keypad /
    case 85: return 0x7C;  // keypad *
    case 86: return 0x7B;  // keypad -
    case 87: return 0x79;  // keypad +
    case 88: return kExtended | 0x5A;  // keypad Enter
    case 89: return 0x69; case 90: return 0x72; case 91: return 0x7A; case 92: return 0x6B;  // keypad 1-4
    case 93: return 0x73; case 94: return 0x74; case 95: return 0x6C; case 96: return 0x75;  // keypad 5-8
    case 97: return 0x7D; case 98: return 0x70; case 99: return 0x71;                        // keypad 9 0 .
    case 100: return 0x61;  // the 102nd key (ISO backslash)
    case 224: return 0x14;  // Left Ctrl
    case 225: return 0x12;  // Left Shift
    case 226: return 0x11;  // Left Alt
    case 227: return kExtended | 0x1F;  // Left GUI
    case 228: return kExtended | 0x14;  // Right Ctrl
    case 229: return 0x59;  // Right Shift
    case 230: return kExtended | 0x11;  // Right Alt
    case 231: return kExtended | 0x27;  // Right GUI
    default: return 0;
  }
}

uint8_t Ps2Keyboard::translate_to_set1(uint8_t set2) { return set1_of(set2); }

void Ps2Keyboard::reset() {
  output_.clear();
  pending_command_ = 0;
  scan_set_ = 2;
  leds_ = 0;
  scanning_ = true;
}

void Ps2Keyboard::queue(uint8_t byte) {
  if (!output_.push(byte)) ++overflows_;
}

void Ps2Keyboard::receive(uint8_t byte) {
  if (pending_command_ != 0) {
    const uint8_t command = pending_command_;
    pending_command_ = 0;
    if (command == 0xED) {
      leds_ = byte & 7;
      queue(kAck);
      return;
    }
    if (command == 0xF3) {  // typematic rate/delay: stored nowhere, host repeat drives it
      queue(kAck);
      return;
    }
    if (command == 0xF0) {
      queue(kAck);
      if (byte == 0) queue(scan_set_);
      else if (byte >= 1 && byte <= 3) scan_set_ = byte;
      return;
    }
  }
  switch (byte) {
    case 0xED: case 0xF3: case 0xF0:
      pending_command_ = byte;
      queue(kAck);
      return;
    case 0xEE: queue(kEcho); return;
    case 0xF2: queue(kAck); queue(0xAB); queue(0x83); return;  // MF2 keyboard
    case 0xF4: scanning_ = true; queue(kAck); return;
    case 0xF5: scanning_ = false; scan_set_ = 2; queue(kAck); return;
    case 0xF6: scan_set_ = 2; leds_ = 0; queue(kAck); return;
    case 0xFE: queue(kAck); return;  // resend: nothing was lost
    case 0xFF:
      output_.clear();
      scan_set_ = 2;
      leds_ = 0;
      scanning_ = true;
      queue(kAck);
      queue(kSelfTestOk);
      return;
    default:
      if (byte >= 0xF7 && byte <= 0xFD) {  // set-3 key type commands: accepted, no effect
        queue(kAck);
        return;
      }
      queue(kResend);
      return;
  }
}

bool Ps2Keyboard::key(uint16_t hid_usage, bool pressed) {
  const uint16_t code = set2_code(hid_usage);
  if (code == 0) return false;
  if (!scanning_) return true;
  const uint8_t base = static_cast<uint8_t>(code);
  if (scan_set_ == 1) {
    if (code & kExtended) queue(0xE0);
    queue(static_cast<uint8_t>(set1_of(base) | (pressed ? 0 : 0x80)));
    return true;
  }
  if (code & kExtended) queue(0xE0);
  if (!pressed) queue(0xF0);
  queue(base);
  return true;
}

}  // namespace kvpc
