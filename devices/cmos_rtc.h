// CmosRtc: the MC146818 real-time clock and its 128 bytes of CMOS RAM (ports 0x70/0x71).
//
// Port 0x70 (index): bits 0-6 select a register, bit 7 masks NMI (stored; kvpc raises no
// NMIs). Port 0x71 (data) reads or writes the selected register.
// - Registers 0x00-0x09: seconds, alarm seconds, minutes, alarm minutes, hours, alarm hours,
//   day of week, day of month, month, year; BCD or binary and 12/24-hour per register B
//   (DM bit 2, 24/12 bit 1). The clock runs: it is host UTC plus an offset the guest sets by
//   writing the time registers (with register B's SET bit held, or directly).
// - Register A: bit 7 UIP reads 1 during the last 244 us before each second's update;
//   bits 0-3 select the periodic-interrupt rate (32768 >> (rate - 1) Hz; 1, 2 = 256, 128 Hz).
// - Register B: SET, PIE, AIE, UIE, DM, 24/12 (SQWE and DSE stored only).
// - Register C (read-only, read clears): IRQF, PF, AF, UF. Flags are computed from the
//   clock when read, so a guest polling them needs no timer; tick() (called by the board's
//   timer) evaluates them too and raises IRQ 8 when an enabled one is set.
// - Register D: VRT (battery good) always 1.
// - 0x0E-0x7F: CMOS RAM; the board writes the PC's memory-size bytes (see docs/firmware.md).
//
// Concurrency contract: every method takes the device mutex; the IrqLine is driven with the
// mutex held (IrqLine::set_level never blocks). The clock is injected for tests.
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

class CmosRtc final : public IoDevice {
 public:
  static constexpr uint16_t kBasePort = 0x70;
  static constexpr uint64_t kPortCount = 2;
  static constexpr uint32_t kIrq = 8;
  static constexpr uint8_t kRegA = 0x0A, kRegB = 0x0B, kRegC = 0x0C, kRegD = 0x0D;
  static constexpr uint8_t kUip = 0x80;
  static constexpr uint8_t kSet = 0x80, kPie = 0x40, kAie = 0x20, kUie = 0x10, kBinary = 0x04, kHour24 = 0x02;
  static constexpr uint8_t kIrqf = 0x80, kPf = 0x40, kAf = 0x20, kUf = 0x10;
  static constexpr uint64_t kUipWindowNs = 244'000;

  // Wall-clock time in nanoseconds since the Unix epoch (host UTC); injectable for tests.
  using Clock = std::function<int64_t()>;
  static int64_t host_clock();

  CmosRtc(IrqLine& irq, Clock clock = host_clock);

  // Set-up / host side: a byte of CMOS RAM (0x0E-0x7F).
  void set_ram(uint8_t index, uint8_t value);
  uint8_t ram(uint8_t index) const;
  bool nmi_masked() const;
  // The period of the periodic interrupt in ns, or 0 when PIE is off (the board's timer uses it).
  uint64_t periodic_period_ns() const;
  // Evaluates UF/AF/PF against the clock and raises IRQ 8 for an enabled, newly set flag.
  void tick();

  std::string_view name() const override { return "cmos-rtc"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  int64_t guest_seconds(int64_t now_ns) const;  // guest time, whole seconds
  uint8_t read_register(uint8_t index, int64_t now_ns);
  void write_register(uint8_t index, uint8_t value, int64_t now_ns);
  uint8_t encode(unsigned value) const;        // binary or BCD per register B
  unsigned decode(uint8_t value) const;
  uint8_t encode_hour(unsigned hour) const;
  unsigned decode_hour(uint8_t value) const;
  void update_flags(int64_t now_ns);           // sets PF/UF/AF for time elapsed since last look
  void update_irq();

  mutable std::mutex mutex_;
  IrqLine& irq_;
  Clock clock_;
  std::array<uint8_t, 128> regs_{};
  uint8_t index_ = 0;
  bool nmi_masked_ = false;
  int64_t offset_seconds_ = 0;   // guest time - host time
  int64_t last_second_ = 0;      // last guest second flags were evaluated at
  int64_t last_period_ = 0;      // last periodic-interrupt period index evaluated
  std::array<uint8_t, 10> set_time_{};  // time registers written while SET is held
  bool irq_level_ = false;
};

}  // namespace kvpc
