#include "devices/uart16550.h"

#include <array>
#include <utility>

#include "devices/port_lanes.h"

namespace kvpc {
namespace {

// Register offsets (DLAB-dependent ones named for DLAB = 0).
constexpr uint64_t kRegData = 0;  // RBR / THR; DLL with DLAB
constexpr uint64_t kRegIer = 1;   // DLM with DLAB
constexpr uint64_t kRegIirFcr = 2;
constexpr uint64_t kRegLcr = 3;
constexpr uint64_t kRegMcr = 4;
constexpr uint64_t kRegLsr = 5;
constexpr uint64_t kRegMsr = 6;
constexpr uint64_t kRegScr = 7;

constexpr uint8_t kIerRxData = 0x01;
constexpr uint8_t kIerThre = 0x02;
constexpr uint8_t kIerLineStatus = 0x04;
constexpr uint8_t kIerModemStatus = 0x08;
constexpr uint8_t kIerImplemented = 0x0F;  // bits 4-7 read 0 (Linux probes this)

// IIR interrupt identification, highest priority first.
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirRxTimeout = 0x0C;
constexpr uint8_t kIirThre = 0x02;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirFifosEnabled = 0xC0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr std::array<uint8_t, 4> kRxTriggerLevels = {1, 4, 8, 14};

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrImplemented = 0x1F;

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrTransmitterEmpty = 0x40;

constexpr uint8_t kMsrDeltaCts = 0x01;
constexpr uint8_t kMsrDeltaDsr = 0x02;
constexpr uint8_t kMsrTrailingEdgeRi = 0x04;
constexpr uint8_t kMsrDeltaDcd = 0x08;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;

// 9600 baud from the PC's 1.8432 MHz clock: the value the chip is usually left at. The
// real reset value is undefined; the guest programs its own before it cares.
constexpr uint16_t kResetDivisor = 12;

}  // namespace

Uart16550::Uart16550(std::string name, CharBackend& output, IrqLine& irq)
    : name_(std::move(name)), output_(output), irq_(irq) {
  reset_registers();
}

void Uart16550::read(uint64_t offset, std::span<uint8_t> data) {
  bool drained = false;
  {
    std::lock_guard lock(mutex_);
    read_byte_lanes(offset, data, kPortCount, [this](uint64_t reg) { return read_register(reg); });
    update_irq();
    drained = std::exchange(rx_drained_event_, false);
  }
  if (drained && rx_drained_) rx_drained_();
}

void Uart16550::write(uint64_t offset, std::span<const uint8_t> data) {
  bool drained = false;
  {
    std::lock_guard lock(mutex_);
    write_byte_lanes(offset, data, kPortCount, [this](uint64_t reg, uint8_t value) { write_register(reg, value); });
    update_irq();
    drained = std::exchange(rx_drained_event_, false);
  }
  if (drained && rx_drained_) rx_drained_();
}

size_t Uart16550::receive(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  if (loopback()) {
    stats_.rx_dropped_in_loopback += bytes.size();
    return 0;
  }
  size_t accepted = 0;
  while (accepted < bytes.size() && rx_.push(bytes[accepted])) ++accepted;
  stats_.rx_bytes += accepted;
  if (accepted < bytes.size()) {
    overrun_ = true;
    stats_.rx_overrun_bytes += bytes.size() - accepted;
  }
  update_irq();
  return accepted;
}

size_t Uart16550::rx_space() const {
  std::lock_guard lock(mutex_);
  return loopback() ? 0 : rx_.space();
}

void Uart16550::set_rx_drained_callback(std::function<void()> callback) { rx_drained_ = std::move(callback); }

void Uart16550::reset() {
  std::lock_guard lock(mutex_);
  reset_registers();
  update_irq();
}

Uart16550::Stats Uart16550::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

uint8_t Uart16550::read_register(uint64_t reg) {
  switch (reg) {
    case kRegData: return dlab() ? static_cast<uint8_t>(divisor_) : read_rbr();
    case kRegIer: return dlab() ? static_cast<uint8_t>(divisor_ >> 8) : ier_;
    case kRegIirFcr: return read_iir();
    case kRegLcr: return lcr_;
    case kRegMcr: return mcr_;
    case kRegLsr: return read_lsr();
    case kRegMsr: return read_msr();
    case kRegScr: return scr_;
    default: return 0xFF;  // unreachable: read_byte_lanes keeps reg below kPortCount
  }
}

void Uart16550::write_register(uint64_t reg, uint8_t value) {
  switch (reg) {
    case kRegData:
      if (dlab()) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0xFF00) | value);
      } else {
        transmit(value);
      }
      break;
    case kRegIer:
      if (dlab()) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0x00FF) | (uint16_t{value} << 8));
      } else {
        write_ier(value);
      }
      break;
    case kRegIirFcr: write_fcr(value); break;
    case kRegLcr: lcr_ = value; break;
    case kRegMcr: write_mcr(value); break;
    case kRegScr: scr_ = value; break;
    default: break;  // LSR and MSR writes are factory-test only on the real chip: ignored
  }
}

uint8_t Uart16550::read_rbr() {
  // An empty FIFO reads 0: the guest only reads RBR after LSR.DR said there was data.
  if (rx_.empty()) return 0;
  const uint8_t byte = rx_.pop();
  if (rx_.empty()) rx_drained_event_ = true;
  return byte;
}

uint8_t Uart16550::read_iir() {
  const uint8_t id = pending_interrupt();
  // Reading IIR is how the guest acknowledges a THR-empty interrupt; the other sources
  // are cleared by servicing them (reading RBR, LSR or MSR).
  if (id == kIirThre) thr_interrupt_pending_ = false;
  return static_cast<uint8_t>(id | (fifo_enabled_ ? kIirFifosEnabled : 0));
}

uint8_t Uart16550::read_lsr() {
  uint8_t lsr = kLsrThrEmpty | kLsrTransmitterEmpty;
  if (!rx_.empty()) lsr |= kLsrDataReady;
  if (overrun_) lsr |= kLsrOverrun;
  overrun_ = false;
  return lsr;
}

uint8_t Uart16550::read_msr() {
  const uint8_t msr = modem_lines_ | modem_deltas_;
  modem_deltas_ = 0;
  return msr;
}

void Uart16550::transmit(uint8_t byte) {
  if (loopback()) {
    ++stats_.loopback_bytes;
    store_received(byte);
  } else {
    output_.write(std::span<const uint8_t>(&byte, 1));
    ++stats_.tx_bytes;
  }
  // The byte left THR at once, so THR is empty again: a fresh THRE interrupt.
  thr_interrupt_pending_ = true;
}

void Uart16550::write_ier(uint8_t value) {
  const uint8_t old = ier_;
  ier_ = value & kIerImplemented;
  // Enabling the THRE interrupt while THR is empty (it always is) raises it at once; the
  // Linux 8250 driver and SeaBIOS both probe for this.
  if ((old & kIerThre) == 0 && (ier_ & kIerThre) != 0) thr_interrupt_pending_ = true;
}

void Uart16550::write_fcr(uint8_t value) {
  const bool enable = (value & kFcrEnable) != 0;
  // Switching between FIFO and 16450 mode resets both FIFOs.
  if (enable != fifo_enabled_) clear_rx();
  fifo_enabled_ = enable;
  // The other FCR bits are only programmed while FCR bit 0 is 1.
  if (!enable) return;
  if ((value & kFcrClearRx) != 0) clear_rx();
  // Clear-TX (bit 2) has nothing to do: the transmitter never holds bytes. DMA mode
  // (bit 3) has no meaning without a DMA controller.
  rx_trigger_ = kRxTriggerLevels[value >> 6];
}

void Uart16550::write_mcr(uint8_t value) {
  const bool was_loopback = loopback();
  mcr_ = value & kMcrImplemented;
  update_modem_lines();
  if (was_loopback && !loopback()) rx_drained_event_ = true;  // host input is welcome again
}

void Uart16550::store_received(uint8_t byte) {
  if (!rx_.push(byte)) {
    overrun_ = true;
    ++stats_.rx_overrun_bytes;
  }
}

void Uart16550::clear_rx() {
  if (!rx_.empty()) rx_drained_event_ = true;
  rx_.clear();
}

void Uart16550::update_modem_lines() {
  uint8_t lines = 0;
  if (loopback()) {
    // The modem outputs are wired back to the inputs inside the chip.
    if ((mcr_ & kMcrRts) != 0) lines |= kMsrCts;
    if ((mcr_ & kMcrDtr) != 0) lines |= kMsrDsr;
    if ((mcr_ & kMcrOut1) != 0) lines |= kMsrRi;
    if ((mcr_ & kMcrOut2) != 0) lines |= kMsrDcd;
  } else {
    // A null-modem host end that is always ready: clear to send, data set ready, carrier.
    lines = kMsrCts | kMsrDsr | kMsrDcd;
  }
  const uint8_t changed = lines ^ modem_lines_;
  if ((changed & kMsrCts) != 0) modem_deltas_ |= kMsrDeltaCts;
  if ((changed & kMsrDsr) != 0) modem_deltas_ |= kMsrDeltaDsr;
  if ((changed & kMsrDcd) != 0) modem_deltas_ |= kMsrDeltaDcd;
  if ((modem_lines_ & kMsrRi) != 0 && (lines & kMsrRi) == 0) modem_deltas_ |= kMsrTrailingEdgeRi;
  modem_lines_ = lines;
}

uint8_t Uart16550::pending_interrupt() const {
  if ((ier_ & kIerLineStatus) != 0 && overrun_) return kIirLineStatus;
  if ((ier_ & kIerRxData) != 0 && !rx_.empty()) {
    if (!fifo_enabled_ || rx_.size() >= rx_trigger_) return kIirRxData;
    return kIirRxTimeout;
  }
  if ((ier_ & kIerThre) != 0 && thr_interrupt_pending_) return kIirThre;
  if ((ier_ & kIerModemStatus) != 0 && modem_deltas_ != 0) return kIirModemStatus;
  return kIirNoInterrupt;
}

void Uart16550::update_irq() {
  const bool gate_open = (mcr_ & kMcrOut2) != 0 && !loopback();
  const bool level = gate_open && pending_interrupt() != kIirNoInterrupt;
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_level(level);
}

void Uart16550::reset_registers() {
  rx_.clear();
  divisor_ = kResetDivisor;
  ier_ = 0;
  lcr_ = 0;
  mcr_ = 0;
  scr_ = 0;
  fifo_enabled_ = false;
  rx_trigger_ = 1;
  overrun_ = false;
  thr_interrupt_pending_ = false;
  modem_lines_ = kMsrCts | kMsrDsr | kMsrDcd;  // not in loopback at power-on
  modem_deltas_ = 0;
  rx_drained_event_ = false;
}

bool Uart16550::dlab() const { return (lcr_ & kLcrDlab) != 0; }
bool Uart16550::loopback() const { return (mcr_ & kMcrLoop) != 0; }


void Uart16550::describe(StateWriter& out) {
  std::lock_guard lock(mutex_);
  out.begin("registers");
  out.number("ier", ier_);
  out.number("iir", static_cast<uint8_t>(pending_interrupt() | (fifo_enabled_ ? kIirFifosEnabled : 0)));
  out.number("lcr", lcr_);
  out.number("mcr", mcr_);
  out.number("lsr", static_cast<uint8_t>(kLsrThrEmpty | kLsrTransmitterEmpty | (rx_.empty() ? 0 : kLsrDataReady) |
                                         (overrun_ ? kLsrOverrun : 0)));
  out.number("msr", static_cast<uint8_t>(modem_lines_ | modem_deltas_));
  out.number("scr", scr_);
  out.number("divisor", divisor_);
  out.end();
  out.flag("dlab", dlab());
  out.flag("loopback", loopback());
  out.flag("fifo_enabled", fifo_enabled_);
  out.number("rx_trigger", rx_trigger_);
  out.number("rx_buffered", rx_.size());
  out.flag("thr_interrupt_pending", thr_interrupt_pending_);
  out.flag("irq_level", irq_level_);
  out.begin("counters");
  out.number("tx_bytes", stats_.tx_bytes);
  out.number("loopback_bytes", stats_.loopback_bytes);
  out.number("rx_bytes", stats_.rx_bytes);
  out.number("rx_overrun_bytes", stats_.rx_overrun_bytes);
  out.number("rx_dropped_in_loopback", stats_.rx_dropped_in_loopback);
  out.end();
}
}  // namespace kvpc
