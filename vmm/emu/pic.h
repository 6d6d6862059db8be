// PicPair: a model of the PC's two cascaded 8259A interrupt controllers plus the ELCR.
//
// It sits inside the emulator (like KVM's in-kernel PIC): guest accesses to ports
// 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1 are handled here without a VM exit. Modelled:
// ICW1-ICW4 initialisation, OCW1 (IMR), OCW2 (non-specific/specific EOI, rotations,
// set priority), OCW3 (read IRR/ISR, poll, special mask mode), auto-EOI, fully nested
// priority, the slave cascaded on master IR2, edge/level per line from the ELCR (or LTIM).
// Not modelled: special fully nested mode, buffered mode, 8080/85 mode (ignored bits).
//
// Concurrency contract: every public method is safe from any thread. State is guarded by
// a std::mutex (never allocates); intr() is a lock-free read of the output line so a vCPU
// can poll it at every instruction boundary. set_irq() calls the wake hook (if set) after
// releasing the lock whenever the output line rises, so a halted vCPU can resume.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "vmm/state_writer.h"

namespace kvpc::emu {

class PicPair {
 public:
  PicPair();

  // Drives ISA line `irq` (0-15). Lines are edge- or level-triggered per the ELCR.
  void set_irq(unsigned irq, bool level);

  // True when the master's INTR output is asserted (an unmasked request outranks service).
  bool intr() const { return intr_.load(std::memory_order_acquire); }

  // INTA cycle: returns the vector to deliver and updates IRR/ISR. Returns the spurious
  // vector (base + 7) if the request went away meanwhile, as the hardware does.
  uint8_t acknowledge();

  // Port access for 0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1. Returns false for other ports.
  bool port_read(uint16_t port, uint8_t& value);
  bool port_write(uint16_t port, uint8_t value);

  // `kvpc inspect`: both chips' registers and initialisation state (takes the lock).
  void describe(StateWriter& out);

  // Called (without the lock held) when INTR may have risen. Set before vCPUs run.
  void set_wake_hook(std::function<void()> hook) { wake_ = std::move(hook); }

 private:
  struct Chip {
    uint8_t irr = 0, isr = 0, imr = 0;
    uint8_t line = 0;       // current input levels (edge detection)
    uint8_t elcr = 0;       // 1 = level-triggered
    uint8_t elcr_mask = 0;  // ELCR bits that exist
    uint8_t vector_base = 0;
    uint8_t priority_add = 0;  // the IR with the highest priority (rotation)
    uint8_t init_step = 0;     // 0 = ready; 2/3/4 = expecting ICW2/ICW3/ICW4
    bool icw4_needed = false;
    bool single = false;
    bool ltim = false;
    bool auto_eoi = false;
    bool rotate_on_aeoi = false;
    bool read_isr = false;
    bool poll = false;
    bool special_mask = false;
  };

  void set_line(Chip& c, unsigned pin, bool level);
  static int highest(const Chip& c, uint8_t mask);  // highest-priority pin in mask, or -1
  static int pending_irq(const Chip& c);            // pin that would interrupt, or -1
  void update();                                    // cascade + output; lock held
  void eoi(Chip& c, int pin);
  uint8_t ack_chip(Chip& c, int pin);
  void write_command(Chip& c, uint8_t value);
  void write_data(Chip& c, uint8_t value);
  uint8_t poll_chip(Chip& c, bool is_master);

  std::mutex mutex_;
  Chip chips_[2];  // 0 master, 1 slave
  std::atomic<bool> intr_{false};
  std::function<void()> wake_;
};

}  // namespace kvpc::emu
