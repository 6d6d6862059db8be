#include "devices/i8042.h"

#include "devices/port_lanes.h"

namespace kvpc {
namespace {

constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystemFlag = 0x04;
constexpr uint8_t kStatusLastWasCommand = 0x08;
constexpr uint8_t kStatusNotInhibited = 0x10;
constexpr uint8_t kStatusAuxOutputFull = 0x20;

constexpr uint8_t kCommandByteKeyboardIrq = 0x01;
constexpr uint8_t kCommandByteAuxIrq = 0x02;
constexpr uint8_t kCommandByteSystemFlag = 0x04;
constexpr uint8_t kCommandByteTranslate = 0x40;
constexpr uint8_t kCommandByteKeyboardDisabled = 0x10;
constexpr uint8_t kCommandByteAuxDisabled = 0x20;
// Keyboard interrupt on, system flag, scan-code translation: what a BIOS leaves behind.
constexpr uint8_t kPowerOnCommandByte = 0x45;

constexpr uint8_t kOutputPortResetLine = 0x01;  // active low: 0 resets the CPU
// Reset line released and A20 enabled.
constexpr uint8_t kPowerOnOutputPort = 0x03;

constexpr uint8_t kCmdReadRamFirst = 0x20;
constexpr uint8_t kCmdReadRamLast = 0x3F;
constexpr uint8_t kCmdWriteRamFirst = 0x60;
constexpr uint8_t kCmdWriteRamLast = 0x7F;
constexpr uint8_t kCmdDisableAux = 0xA7;
constexpr uint8_t kCmdEnableAux = 0xA8;
constexpr uint8_t kCmdTestAux = 0xA9;
constexpr uint8_t kCmdSelfTest = 0xAA;
constexpr uint8_t kCmdTestKeyboard = 0xAB;
constexpr uint8_t kCmdReadInputPort = 0xC0;
constexpr uint8_t kCmdWriteKeyboardOutput = 0xD2;
constexpr uint8_t kCmdWriteAuxOutput = 0xD3;
constexpr uint8_t kCmdWriteAux = 0xD4;
constexpr uint8_t kPortTestPassed = 0x00;
// Input port: keyboard not inhibited (bit 7), colour display (bit 6 clear), 256 KiB+ RAM.
constexpr uint8_t kInputPort = 0xBF;
constexpr uint8_t kCmdDisableKeyboard = 0xAD;
constexpr uint8_t kCmdEnableKeyboard = 0xAE;
constexpr uint8_t kCmdReadOutputPort = 0xD0;
constexpr uint8_t kCmdWriteOutputPort = 0xD1;
constexpr uint8_t kCmdPulseFirst = 0xF0;

constexpr uint8_t kSelfTestPassed = 0x55;

}  // namespace

void I8042::Port::read(uint64_t offset, std::span<uint8_t> data) {
  read_byte_lanes(offset, data, 1, [this](uint64_t) { return controller_.read_port(kind_); });
}

void I8042::Port::write(uint64_t offset, std::span<const uint8_t> data) {
  bool reset_requested = false;
  write_byte_lanes(offset, data, 1,
                   [&](uint64_t, uint8_t value) { reset_requested = controller_.write_port(kind_, value); });
  if (reset_requested) controller_.power_.request_reset();
}

I8042::I8042(PowerControl& power, IrqLine* keyboard_irq, IrqLine* aux_irq)
    : power_(power), keyboard_irq_(keyboard_irq), aux_irq_(aux_irq) {
  reset_state();
}

bool I8042::key(uint16_t hid_usage, bool pressed) {
  std::lock_guard lock(mutex_);
  const bool known = keyboard_.key(hid_usage, pressed);
  refill_and_signal();
  return known;
}

void I8042::mouse_motion(int dx, int dy, uint8_t buttons) {
  std::lock_guard lock(mutex_);
  mouse_.motion(dx, dy, buttons);
  refill_and_signal();
}

void I8042::refill_and_signal() {
  while (!output_full_) {
    if (!output_.empty()) {
      output_register_ = output_.pop();
      output_full_ = true;
      break;
    }
    if ((command_byte() & kCommandByteKeyboardDisabled) == 0 && keyboard_.has_output()) {
      uint8_t value = keyboard_.pop_output();
      if ((command_byte() & kCommandByteTranslate) != 0) {
        // The controller's set 2 -> set 1 translation: F0 marks the next code as a break.
        if (value == 0xF0) {
          translate_break_ = true;
          continue;
        }
        // Codes 0x00-0x7F and 0x83 (F7, and the second ID byte) go through the table;
        // E0/E1 prefixes and replies (FA, AA, EE, FE, AB) pass unchanged.
        if (value < 0x80 || value == 0x83) {
          value = static_cast<uint8_t>(Ps2Keyboard::translate_to_set1(value) | (translate_break_ ? 0x80 : 0));
          translate_break_ = false;
        }
      }
      output_register_ = OutputByte{value, false, Source::kKeyboard};
      output_full_ = true;
      break;
    }
    if ((command_byte() & kCommandByteAuxDisabled) == 0 && mouse_.has_output()) {
      output_register_ = OutputByte{mouse_.pop_output(), true, Source::kAux};
      output_full_ = true;
      break;
    }
    break;
  }
  const bool keyboard = output_full_ && output_register_.source == Source::kKeyboard &&
                        (command_byte() & kCommandByteKeyboardIrq) != 0;
  const bool aux = output_full_ && output_register_.source == Source::kAux && (command_byte() & kCommandByteAuxIrq) != 0;
  if (keyboard_irq_ != nullptr) keyboard_irq_->set_level(keyboard);
  if (aux_irq_ != nullptr) aux_irq_->set_level(aux);
}

void I8042::reset() {
  std::lock_guard lock(mutex_);
  reset_state();
}

I8042::Stats I8042::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

uint8_t I8042::read_port(PortKind kind) {
  std::lock_guard lock(mutex_);
  const uint8_t value = kind == PortKind::kData ? read_data() : read_status();
  refill_and_signal();
  return value;
}

bool I8042::write_port(PortKind kind, uint8_t value) {
  std::lock_guard lock(mutex_);
  const bool reset_requested = kind == PortKind::kData ? write_data(value) : write_command(value);
  if (reset_requested) ++stats_.reset_requests;
  refill_and_signal();
  return reset_requested;
}

uint8_t I8042::read_data() {
  if (output_full_) {
    last_output_ = output_register_.value;
    output_full_ = false;
  }
  return last_output_;
}

uint8_t I8042::read_status() const {
  uint8_t status = kStatusNotInhibited;
  if (output_full_) {
    status |= kStatusOutputFull;
    if (output_register_.from_aux) status |= kStatusAuxOutputFull;
  }
  if ((command_byte() & kCommandByteSystemFlag) != 0) status |= kStatusSystemFlag;
  if (last_write_was_command_) status |= kStatusLastWasCommand;
  return status;
}

bool I8042::write_data(uint8_t value) {
  last_write_was_command_ = false;
  const uint8_t command = pending_command_;
  pending_command_ = 0;
  if (command >= kCmdWriteRamFirst && command <= kCmdWriteRamLast) {
    ram_[command - kCmdWriteRamFirst] = value;
    return false;
  }
  if (command == kCmdWriteOutputPort) return write_output_port(value);
  if (command == kCmdWriteKeyboardOutput) {
    queue_output(value, false, Source::kKeyboard);
    return false;
  }
  if (command == kCmdWriteAuxOutput) {
    queue_output(value, true, Source::kAux);
    return false;
  }
  if (command == kCmdWriteAux) {
    command_byte() &= static_cast<uint8_t>(~kCommandByteAuxDisabled);  // talking to the mouse enables its port
    mouse_.receive(value);
    return false;
  }
  // No command wants this byte, so it is for the keyboard; writing to it enables its port.
  command_byte() &= static_cast<uint8_t>(~kCommandByteKeyboardDisabled);
  keyboard_.receive(value);
  return false;
}

bool I8042::write_command(uint8_t command) {
  last_write_was_command_ = true;
  pending_command_ = 0;  // a new command abandons one still waiting for its data byte
  if (command >= kCmdReadRamFirst && command <= kCmdReadRamLast) {
    queue_output(ram_[command - kCmdReadRamFirst], false);
    return false;
  }
  if ((command >= kCmdWriteRamFirst && command <= kCmdWriteRamLast) || command == kCmdWriteOutputPort ||
      command == kCmdWriteKeyboardOutput || command == kCmdWriteAuxOutput || command == kCmdWriteAux) {
    pending_command_ = command;
    return false;
  }
  if (command >= kCmdPulseFirst) {
    // Bits 0-3 select output-port lines to pulse low; bit 0 is the CPU reset line.
    return (command & kOutputPortResetLine) == 0;
  }
  switch (command) {
    case kCmdDisableAux: command_byte() |= kCommandByteAuxDisabled; return false;
    case kCmdEnableAux: command_byte() &= static_cast<uint8_t>(~kCommandByteAuxDisabled); return false;
    case kCmdDisableKeyboard: command_byte() |= kCommandByteKeyboardDisabled; return false;
    case kCmdEnableKeyboard: command_byte() &= static_cast<uint8_t>(~kCommandByteKeyboardDisabled); return false;
    case kCmdSelfTest:
      command_byte() |= kCommandByteSystemFlag;  // a passed self-test sets the system flag
      queue_output(kSelfTestPassed, false);
      return false;
    case kCmdReadOutputPort: queue_output(output_port_, false); return false;
    case kCmdReadInputPort: queue_output(kInputPort, false); return false;
    case kCmdTestAux:
    case kCmdTestKeyboard: queue_output(kPortTestPassed, false); return false;
    default: ++stats_.unknown_commands; return false;
  }
}

bool I8042::write_output_port(uint8_t value) {
  output_port_ = value;
  return (value & kOutputPortResetLine) == 0;
}

void I8042::queue_output(uint8_t value, bool from_aux, Source source) {
  if (!output_.push(OutputByte{value, from_aux, source})) ++stats_.output_overflows;
}

void I8042::reset_state() {
  ram_.fill(0);
  command_byte() = kPowerOnCommandByte;
  output_port_ = kPowerOnOutputPort;
  pending_command_ = 0;
  last_write_was_command_ = false;
  last_output_ = 0;
  output_.clear();
  output_full_ = false;
  translate_break_ = false;
  keyboard_.reset();
  mouse_.reset();
  if (keyboard_irq_ != nullptr) keyboard_irq_->set_level(false);
  if (aux_irq_ != nullptr) aux_irq_->set_level(false);
}

}  // namespace kvpc
