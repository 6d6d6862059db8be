// Uart16550: a National Semiconductor 16550A UART (PC COM port; COM1 = 0x3F8, IRQ 4).
//
// Registered for 8 ports; offsets 0-7 are the usual registers:
//   0  RBR (read) / THR (write)          DLL when LCR.DLAB = 1
//   1  IER (bits 0-3)                    DLM when LCR.DLAB = 1
//   2  IIR (read) / FCR (write)
//   3  LCR   4  MCR (bits 0-4)   5  LSR   6  MSR   7  SCR
// A wider access is split into byte accesses to consecutive ports, as an ISA bus does.
//
// Transmit: a byte written to THR goes straight to the CharBackend; the transmitter is
// always idle again by the time the guest looks (THRE and TEMT always read 1). In loopback
// mode (MCR bit 4) the byte goes to the receive buffer instead, as the chip disconnects
// its serial output then.
//
// Receive: the host calls receive() with input. Behind the guest-visible 16-byte FIFO sits
// a 4 KiB buffer; bytes that do not fit are dropped, counted, and flagged to the guest as
// an overrun (LSR.OE). rx_space() tells the host how much fits, so it can hold input back
// instead; set_rx_drained_callback() says when to try again. kvpc has no notion of
// character time, so the character-timeout interrupt (IIR 0x0C) is reported whenever the
// FIFO holds data below the trigger level.
//
// Interrupt: a level on the IrqLine, recomputed after every register access and every
// receive(), and only passed on when it changes. As on a PC board, MCR.OUT2 gates it, and
// loopback mode (which forces the OUT2 pin inactive) keeps it low.
//
// Concurrency contract: one std::mutex guards all state. read()/write() (vCPU threads)
// and receive()/rx_space()/stats()/reset() (event loop, host) each take it for their
// whole duration. The CharBackend write and IrqLine::set_level happen under it, which
// keeps transmitted bytes and line levels in register order. The drained callback runs
// after the lock is released, so it may call back into the UART.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "devices/char_backend.h"
#include "devices/fixed_ring.h"
#include "vmm/io_device.h"
#include "vmm/irq_line.h"

namespace kvpc {

class Uart16550 final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 8;
  static constexpr size_t kFifoSize = 16;
  static constexpr size_t kRxBufferSize = 4096;

  struct Stats {
    uint64_t tx_bytes = 0;                  // written to the CharBackend
    uint64_t loopback_bytes = 0;            // transmitted while in loopback mode
    uint64_t rx_bytes = 0;                  // accepted from the host
    uint64_t rx_overrun_bytes = 0;          // dropped because the receive buffer was full
    uint64_t rx_dropped_in_loopback = 0;    // host input that arrived in loopback mode
  };

  // output, irq (and the object behind them) must outlive the UART.
  Uart16550(std::string name, CharBackend& output, IrqLine& irq);

  std::string_view name() const override { return name_; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  // Registers as the guest would read them (without the read side effects), FIFO, counters.
  void describe(StateWriter& out) override;

  // Host input (event-loop thread). Returns how many bytes were accepted; the rest are
  // dropped as an overrun. In loopback mode the serial input is disconnected: nothing is
  // accepted.
  size_t receive(std::span<const uint8_t> bytes);

  // How many bytes receive() would accept now (0 in loopback mode).
  size_t rx_space() const;

  // Set-up only (before the VM runs). Called on a vCPU thread, without the UART lock,
  // when a guest access emptied the receive buffer or left loopback mode: the moments a
  // host that stopped feeding input should try again. Must not block.
  void set_rx_drained_callback(std::function<void()> callback);

  // Back to power-on state (VM reset). Statistics are kept.
  void reset();

  Stats stats() const;

 private:
  uint8_t read_register(uint64_t reg);
  void write_register(uint64_t reg, uint8_t value);

  uint8_t read_rbr();
  uint8_t read_iir();
  uint8_t read_lsr();
  uint8_t read_msr();
  void transmit(uint8_t byte);
  void write_ier(uint8_t value);
  void write_fcr(uint8_t value);
  void write_mcr(uint8_t value);

  void store_received(uint8_t byte);
  void clear_rx();
  void update_modem_lines();
  uint8_t pending_interrupt() const;
  void update_irq();
  void reset_registers();
  bool dlab() const;
  bool loopback() const;

  const std::string name_;
  CharBackend& output_;
  IrqLine& irq_;
  std::function<void()> rx_drained_;

  mutable std::mutex mutex_;
  FixedRing<uint8_t, kRxBufferSize> rx_;
  uint16_t divisor_ = 0;
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  bool fifo_enabled_ = false;
  uint8_t rx_trigger_ = 1;
  bool overrun_ = false;                // LSR.OE, cleared by reading LSR
  bool thr_interrupt_pending_ = false;  // cleared by reading IIR (when reported) or writing THR
  uint8_t modem_lines_ = 0;             // MSR bits 4-7
  uint8_t modem_deltas_ = 0;            // MSR bits 0-3, cleared by reading MSR
  bool irq_level_ = false;              // last level given to irq_
  bool rx_drained_event_ = false;       // set under the lock, reported after it
  Stats stats_;
};

}  // namespace kvpc
