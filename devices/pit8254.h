// Pit8254: the 8254 programmable interval timer (ports 0x40-0x43) for the emu accelerator.
// (Under KVM the in-kernel PIT owns these ports and port 0x61.)
//
// Three 16-bit down-counters clocked at 1.193182 MHz, computed from a monotonic clock
// when read rather than ticked: a channel remembers when its count was loaded and how many
// input ticks its gate let through since. Modes 0 (interrupt on terminal count), 1
// (hardware one-shot), 2 (rate generator), 3 (square wave), 4 (software strobe) and 5
// (hardware strobe); binary counting (BCD is stored and read back, and counted as binary);
// LSB, MSB and LSB-then-MSB access; counter latch and the read-back command (count and status).
// Channel 0's output drives IRQ 0: the board's timer calls tick(), which raises an edge for
// every rising output edge since the last call. Channel 2's gate and output are bits 0 and 5
// of port 0x61 (PortB below): firmware calibrates its TSC against them.
//
// Concurrency contract: one mutex guards all channels; read()/write() run on vCPU threads,
// tick() and next_event_ns() on the timer's thread. The clock is injected for tests.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>

#include "vmm/io_device.h"
#include "vmm/irq_line.h"

namespace kvpc {

class Pit8254 final : public IoDevice {
 public:
  static constexpr uint16_t kBasePort = 0x40;
  static constexpr uint64_t kPortCount = 4;
  static constexpr uint32_t kIrq = 0;
  static constexpr uint64_t kHz = 1'193'182;

  // Monotonic nanoseconds; injectable for tests.
  using Clock = std::function<uint64_t()>;
  static uint64_t host_clock();

  Pit8254(IrqLine& irq0, Clock clock = host_clock);

  // Port 0x61 side of channel 2.
  void set_gate(int channel, bool high);
  bool gate(int channel) const;
  bool output(int channel);
  // Raises IRQ 0 for channel 0's rising edges since the last call.
  void tick();
  // Nanoseconds until channel 0's next rising edge, or 0 if none is coming (for the timer).
  uint64_t next_event_ns();
  // The current count of a channel as a latch would capture it (tests, debugging).
  uint16_t count(int channel);

  std::string_view name() const override { return "pit"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  struct Channel {
    uint8_t mode = 0;
    uint8_t access = 3;       // 1 LSB, 2 MSB, 3 LSB then MSB
    bool bcd = false;
    uint32_t reload = 0x10000;  // a written 0 counts as 65536
    bool counting = false;    // a count has been loaded (and, modes 1/5, triggered)
    uint64_t start_ns = 0;    // when counting (re)started
    uint64_t held_ticks = 0;  // ticks counted before the gate last went low
    bool gate = true;
    bool write_msb_next = false;
    uint8_t write_lsb = 0;
    bool read_msb_next = false;
    bool latched = false;
    uint16_t latch = 0;
    bool status_latched = false;
    uint8_t status = 0;
    bool null_count = true;
    uint64_t edges_seen = 0;  // channel 0: rising edges already turned into IRQs
  };
  uint64_t ticks(const Channel& c, uint64_t now) const;
  uint16_t count_at(const Channel& c, uint64_t now) const;
  bool output_at(const Channel& c, uint64_t now) const;
  uint64_t rising_edges(const Channel& c, uint64_t now) const;
  void load(Channel& c, uint32_t value, uint64_t now);
  uint8_t read_counter(Channel& c, uint64_t now);

  mutable std::mutex mutex_;
  IrqLine& irq0_;
  Clock clock_;
  std::array<Channel, 3> ch_{};
};

// Port 0x61 (system control port B): bit 0 = channel 2 gate, bit 1 = speaker data (stored),
// bit 4 = refresh request (toggles every 15.085 us), bit 5 = channel 2 output. Writes change
// bits 0-3 only.
class PortB final : public IoDevice {
 public:
  static constexpr uint16_t kPort = 0x61;
  static constexpr uint64_t kPortCount = 1;
  PortB(Pit8254& pit, Pit8254::Clock clock = Pit8254::host_clock) : pit_(pit), clock_(std::move(clock)) {}
  std::string_view name() const override { return "port-b"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  Pit8254& pit_;
  Pit8254::Clock clock_;
  std::mutex mutex_;
  uint8_t control_ = 0;
};

}  // namespace kvpc
