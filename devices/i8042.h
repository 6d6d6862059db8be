// I8042: the PC keyboard controller with a PS/2 keyboard on its first port and a PS/2
// mouse on its aux port, plus the CPU reset line.
//
// Ports: 0x60 is the data port, 0x64 the status (read) / command (write) port. They are
// two separate IoDevices, data_port() and command_port(), each registered for one port,
// so ports 0x61-0x63 (port B, the PIT speaker gate) stay free for whoever owns them.
//
// Status (0x64 read): bit 0 output buffer full, bit 1 input buffer full (always 0: commands
// complete at once), bit 2 system flag (command-byte bit 2), bit 3 last write was a command,
// bit 4 keyboard not inhibited, bit 5 the byte in the output buffer came from the aux port.
//
// Commands (0x64 write):
//   0x20-0x3F  read controller RAM byte N (0x20: the command byte) -> queued
//   0x60-0x7F  the next data byte goes to controller RAM byte N (0x60: the command byte)
//   0xA7/0xA8  disable/enable aux port   0xAD/0xAE disable/enable keyboard (command byte bits)
//   0xA9/0xAB  test aux/keyboard port -> 0x00     0xAA self-test -> 0x55
//   0xC0       read input port -> queued
//   0xD0       read output port -> queued
//   0xD1       the next data byte goes to the output port; bit 0 clear pulls the CPU reset line
//   0xD2/0xD3  the next data byte comes back as if from the keyboard / the mouse
//   0xD4       the next data byte goes to the mouse
//   0xF0-0xFF  pulse output-port bits 0-3 low where the command's bit is 0; 0xFE pulses
//              bit 0, the reset line
// Anything else is ignored and counted (stats().unknown_commands). A data byte with no
// command waiting goes to the keyboard (Ps2Keyboard) and enables its interface.
//
// Output: one output register, refilled in priority order from controller replies, then
// the keyboard (unless disabled, command byte bit 4), then the mouse (unless disabled,
// bit 5). Keyboard bytes pass the set 2 -> set 1 translation when command byte bit 6 is set
// (F0 break prefixes fold into bit 7 of the next code). IRQ 1 is asserted while the output
// register holds a keyboard byte and command byte bit 0 is set; IRQ 12 likewise for mouse
// bytes and bit 1. Reading 0x60 with nothing queued returns the last byte again. Of a wider
// access only the byte on the device's own port counts.
//
// Host input: key(hid_usage, pressed) and mouse_motion(dx, dy, buttons), from any thread.
//
// Concurrency contract: one std::mutex guards all state; both ports and the host-input
// methods take it for a whole call; IRQ lines are driven with it held (they never call
// back). request_reset() is called after the lock is released.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>

#include "devices/fixed_ring.h"
#include "devices/ps2_keyboard.h"
#include "devices/ps2_mouse.h"
#include "vmm/irq_line.h"
#include "vmm/io_device.h"
#include "vmm/power_control.h"

namespace kvpc {

class I8042 {
 public:
  static constexpr uint16_t kDataPort = 0x60;
  static constexpr uint16_t kCommandPort = 0x64;

  struct Stats {
    uint64_t unknown_commands = 0;
    uint64_t device_bytes_dropped = 0;  // data bytes for a device (kept for compatibility; now always 0)
    uint64_t output_overflows = 0;      // replies lost because the output queue was full
    uint64_t reset_requests = 0;
  };

  // power (and the IRQ lines, when given) must outlive the controller.
  explicit I8042(PowerControl& power, IrqLine* keyboard_irq = nullptr, IrqLine* aux_irq = nullptr);
  I8042(const I8042&) = delete;
  I8042& operator=(const I8042&) = delete;

  IoDevice& data_port() { return data_port_; }
  IoDevice& command_port() { return command_port_; }

  // Back to power-on state (VM reset). Statistics are kept.
  void reset();
  Stats stats() const;

  // Host input (any thread). key(): a USB HID usage (SDL scancode); false when the key has
  // no PS/2 code. mouse_motion(): dx right, dy up; buttons bit 0 left, 1 right, 2 middle.
  bool key(uint16_t hid_usage, bool pressed);
  void mouse_motion(int dx, int dy, uint8_t buttons);

 private:
  enum class PortKind { kData, kCommand };

  // The glue between a port and the controller: offset 0 is the controller's register.
  class Port final : public IoDevice {
   public:
    Port(I8042& controller, PortKind kind) : controller_(controller), kind_(kind) {}
    std::string_view name() const override { return kind_ == PortKind::kData ? "i8042-data" : "i8042-command"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    I8042& controller_;
    PortKind kind_;
  };

  enum class Source : uint8_t { kController, kKeyboard, kAux };
  struct OutputByte {
    uint8_t value = 0;
    bool from_aux = false;
    Source source = Source::kController;
  };

  uint8_t read_port(PortKind kind);
  // Returns true when the write asked for a CPU reset.
  bool write_port(PortKind kind, uint8_t value);

  uint8_t read_data();
  uint8_t read_status() const;
  bool write_data(uint8_t value);
  bool write_command(uint8_t command);
  bool write_output_port(uint8_t value);
  void queue_output(uint8_t value, bool from_aux, Source source = Source::kController);
  // Moves the next byte into the output register if it is empty, then drives IRQ 1/12.
  void refill_and_signal();
  void reset_state();
  uint8_t& command_byte() { return ram_[0]; }
  uint8_t command_byte() const { return ram_[0]; }

  PowerControl& power_;
  Port data_port_{*this, PortKind::kData};
  Port command_port_{*this, PortKind::kCommand};

  mutable std::mutex mutex_;
  std::array<uint8_t, 32> ram_{};  // controller RAM; byte 0 is the command byte
  uint8_t output_port_ = 0;
  uint8_t pending_command_ = 0;  // a command waiting for its data byte, or 0
  bool last_write_was_command_ = false;
  uint8_t last_output_ = 0;
  FixedRing<OutputByte, 16> output_;  // controller replies (and D2/D3 echoes)
  bool output_full_ = false;
  OutputByte output_register_;
  bool translate_break_ = false;  // an F0 was folded away: the next code is a break
  Ps2Keyboard keyboard_;
  Ps2Mouse mouse_;
  IrqLine* keyboard_irq_ = nullptr;
  IrqLine* aux_irq_ = nullptr;
  Stats stats_;
};

}  // namespace kvpc
