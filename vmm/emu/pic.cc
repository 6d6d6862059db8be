#include "vmm/emu/pic.h"

namespace kvpc::emu {

PicPair::PicPair() {
  chips_[0].elcr_mask = 0xF8;  // IRQ0-2 are always edge on a PC
  chips_[1].elcr_mask = 0xDE;  // IRQ8 and IRQ13 likewise
}

void PicPair::set_line(Chip& c, unsigned pin, bool level) {
  const uint8_t bit = static_cast<uint8_t>(1u << pin);
  const bool level_mode = c.ltim || (c.elcr & bit);
  if (level_mode) {
    // Level: IRR follows the line while it is asserted.
    if (level) c.irr |= bit;
    else c.irr &= static_cast<uint8_t>(~bit);
  } else if (level && !(c.line & bit)) {
    c.irr |= bit;  // edge: latch the rising edge; it stays until acknowledged
  }
  if (level) c.line |= bit;
  else c.line &= static_cast<uint8_t>(~bit);
}

void PicPair::set_irq(unsigned irq, bool level) {
  if (irq > 15) return;
  bool rose = false;
  {
    std::lock_guard lock(mutex_);
    bool before = intr_.load(std::memory_order_relaxed);
    set_line(chips_[irq >> 3], irq & 7, level);
    update();
    rose = !before && intr_.load(std::memory_order_relaxed);
  }
  if (rose && wake_) wake_();
}

int PicPair::highest(const Chip& c, uint8_t mask) {
  if (mask == 0) return -1;
  for (unsigned i = 0; i < 8; ++i) {
    unsigned pin = (i + c.priority_add) & 7;
    if (mask & (1u << pin)) return static_cast<int>(pin);
  }
  return -1;
}

int PicPair::pending_irq(const Chip& c) {
  int req = highest(c, static_cast<uint8_t>(c.irr & ~c.imr));
  if (req < 0) return -1;
  // In special mask mode masked in-service levels do not block lower priorities.
  uint8_t in_service = c.special_mask ? static_cast<uint8_t>(c.isr & ~c.imr) : c.isr;
  int cur = highest(c, in_service);
  if (cur < 0) return req;
  // Fully nested: only a strictly higher priority (closer to priority_add) interrupts.
  unsigned req_rank = (static_cast<unsigned>(req) - c.priority_add) & 7;
  unsigned cur_rank = (static_cast<unsigned>(cur) - c.priority_add) & 7;
  return req_rank < cur_rank ? req : -1;
}

void PicPair::update() {
  Chip& master = chips_[0];
  Chip& slave = chips_[1];
  // The slave's INT output drives master IR2 directly: master IRR2 mirrors "the slave has
  // a request to present", whatever the trigger mode of the slave's own inputs.
  if (pending_irq(slave) >= 0) master.irr |= 0x04;
  else master.irr &= static_cast<uint8_t>(~0x04);
  intr_.store(pending_irq(master) >= 0, std::memory_order_release);
}

void PicPair::eoi(Chip& c, int pin) {
  if (pin >= 0) c.isr &= static_cast<uint8_t>(~(1u << pin));
}

uint8_t PicPair::ack_chip(Chip& c, int pin) {
  const uint8_t bit = static_cast<uint8_t>(1u << pin);
  if (c.auto_eoi) {
    if (c.rotate_on_aeoi) c.priority_add = static_cast<uint8_t>((pin + 1) & 7);
  } else {
    c.isr |= bit;
  }
  // Edge-triggered requests are consumed by the acknowledge; level ones persist.
  if (!(c.ltim || (c.elcr & bit))) c.irr &= static_cast<uint8_t>(~bit);
  return static_cast<uint8_t>(c.vector_base + pin);
}

uint8_t PicPair::acknowledge() {
  std::lock_guard lock(mutex_);
  Chip& master = chips_[0];
  Chip& slave = chips_[1];
  uint8_t vector;
  int pin = pending_irq(master);
  if (pin < 0) {
    vector = static_cast<uint8_t>(master.vector_base + 7);  // spurious IRQ7
  } else if (pin == 2 && !master.single) {
    int spin = pending_irq(slave);
    ack_chip(master, 2);
    vector = spin >= 0 ? ack_chip(slave, spin) : static_cast<uint8_t>(slave.vector_base + 7);
  } else {
    vector = ack_chip(master, pin);
  }
  update();
  return vector;
}

void PicPair::write_command(Chip& c, uint8_t value) {
  if (value & 0x10) {  // ICW1: restart initialisation
    c.init_step = 2;
    c.icw4_needed = value & 1;
    c.single = value & 2;
    c.ltim = value & 8;
    c.imr = 0;
    c.isr = 0;
    c.irr = 0;
    c.priority_add = 0;
    c.auto_eoi = false;
    c.rotate_on_aeoi = false;
    c.read_isr = false;
    c.poll = false;
    c.special_mask = false;
    return;
  }
  if (value & 0x08) {  // OCW3
    if (value & 0x04) c.poll = true;
    if (value & 0x02) c.read_isr = value & 1;
    if (value & 0x40) c.special_mask = value & 0x20;
    return;
  }
  // OCW2
  const int pin = value & 7;
  switch (value >> 5) {
    case 0: c.rotate_on_aeoi = false; break;
    case 4: c.rotate_on_aeoi = true; break;
    case 1: eoi(c, highest(c, c.isr)); break;                    // non-specific EOI
    case 3: eoi(c, pin); break;                                  // specific EOI
    case 5: {                                                    // rotate on non-specific EOI
      int cur = highest(c, c.isr);
      eoi(c, cur);
      if (cur >= 0) c.priority_add = static_cast<uint8_t>((cur + 1) & 7);
      break;
    }
    case 6: c.priority_add = static_cast<uint8_t>((pin + 1) & 7); break;  // set priority
    case 7:                                                               // rotate on specific EOI
      eoi(c, pin);
      c.priority_add = static_cast<uint8_t>((pin + 1) & 7);
      break;
    default: break;  // 2: no operation
  }
}

void PicPair::write_data(Chip& c, uint8_t value) {
  switch (c.init_step) {
    case 2:
      c.vector_base = value & 0xF8;
      c.init_step = c.single ? (c.icw4_needed ? 4 : 0) : 3;
      return;
    case 3:  // ICW3: cascade wiring; the PC's is fixed (slave on IR2)
      c.init_step = c.icw4_needed ? 4 : 0;
      return;
    case 4:
      c.auto_eoi = value & 2;
      c.init_step = 0;
      return;
    default:
      c.imr = value;  // OCW1
      return;
  }
}

uint8_t PicPair::poll_chip(Chip& c, bool is_master) {
  c.poll = false;
  int pin = pending_irq(c);
  if (pin < 0) return 0;
  if (is_master && pin == 2) {
    Chip& slave = chips_[1];
    int spin = pending_irq(slave);
    ack_chip(c, 2);
    if (spin >= 0) ack_chip(slave, spin);
    return static_cast<uint8_t>(0x80 | 2);
  }
  ack_chip(c, pin);
  return static_cast<uint8_t>(0x80 | pin);
}

bool PicPair::port_read(uint16_t port, uint8_t& value) {
  std::lock_guard lock(mutex_);
  switch (port) {
    case 0x20: case 0xA0: {
      Chip& c = chips_[port == 0xA0];
      if (c.poll) {
        value = poll_chip(c, port == 0x20);
        update();
      } else {
        value = c.read_isr ? c.isr : c.irr;
      }
      return true;
    }
    case 0x21: case 0xA1: {
      Chip& c = chips_[port == 0xA1];
      if (c.poll) {
        value = poll_chip(c, port == 0x21);
        update();
      } else {
        value = c.imr;
      }
      return true;
    }
    case 0x4D0: value = chips_[0].elcr; return true;
    case 0x4D1: value = chips_[1].elcr; return true;
    default: return false;
  }
}

bool PicPair::port_write(uint16_t port, uint8_t value) {
  bool rose = false;
  {
    std::lock_guard lock(mutex_);
    bool before = intr_.load(std::memory_order_relaxed);
    switch (port) {
      case 0x20: case 0xA0: write_command(chips_[port == 0xA0], value); break;
      case 0x21: case 0xA1: write_data(chips_[port == 0xA1], value); break;
      case 0x4D0: case 0x4D1: {
        Chip& c = chips_[port == 0x4D1];
        c.elcr = value & c.elcr_mask;
        // Lines switched to level mode with the line high request again.
        for (unsigned pin = 0; pin < 8; ++pin) set_line(c, pin, c.line & (1u << pin));
        break;
      }
      default: return false;
    }
    update();
    rose = !before && intr_.load(std::memory_order_relaxed);
  }
  if (rose && wake_) wake_();
  return true;
}


void PicPair::describe(StateWriter& out) {
  std::lock_guard lock(mutex_);
  const char* names[2] = {"master", "slave"};
  for (int i = 0; i < 2; ++i) {
    const Chip& c = chips_[i];
    out.begin(names[i]);
    out.number("irr", c.irr);
    out.number("isr", c.isr);
    out.number("imr", c.imr);
    out.number("input_levels", c.line);
    out.number("elcr", c.elcr);
    out.number("vector_base", c.vector_base);
    out.number("priority_add", c.priority_add);
    out.number("init_step", c.init_step);
    out.flag("auto_eoi", c.auto_eoi);
    out.flag("special_mask", c.special_mask);
    out.flag("read_isr", c.read_isr);
    out.end();
  }
  out.flag("intr", intr_.load(std::memory_order_relaxed));
}
}  // namespace kvpc::emu
