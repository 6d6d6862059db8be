#include "devices/pit8254.h"

#include <chrono>

namespace kvpc {
namespace {
constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint64_t kRefreshPeriodNs = 15'085;
}  // namespace

uint64_t Pit8254::host_clock() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

Pit8254::Pit8254(IrqLine& irq0, Clock clock) : irq0_(irq0), clock_(std::move(clock)) {
  ch_[2].gate = false;  // port 0x61 bit 0 is clear at power-on; channels 0 and 1 are tied high
}

uint64_t Pit8254::ticks(const Channel& c, uint64_t now) const {
  if (!c.counting) return 0;
  const bool pauses = c.mode == 0 || c.mode == 2 || c.mode == 3 || c.mode == 4;
  if (pauses && !c.gate) return c.held_ticks;
  const uint64_t elapsed = now > c.start_ns ? now - c.start_ns : 0;
  __extension__ const unsigned __int128 t = static_cast<unsigned __int128>(elapsed) * kHz / kNsPerSecond;
  return c.held_ticks + static_cast<uint64_t>(t);
}

uint16_t Pit8254::count_at(const Channel& c, uint64_t now) const {
  if (!c.counting) return static_cast<uint16_t>(c.reload);
  const uint64_t t = ticks(c, now);
  const uint64_t n = c.reload;
  switch (c.mode) {
    case 2: return static_cast<uint16_t>(n - (t % n));
    case 3: return static_cast<uint16_t>((n - ((2 * t) % n)) & ~1ULL);
    default: return static_cast<uint16_t>((n - t) & 0xFFFF);  // 0, 1, 4, 5 wrap past zero
  }
}

bool Pit8254::output_at(const Channel& c, uint64_t now) const {
  const uint64_t n = c.reload;
  if (!c.counting) return c.mode != 0 && c.mode != 1 ? true : (c.mode == 1);
  const uint64_t t = ticks(c, now);
  switch (c.mode) {
    case 0: case 1: return t >= n;
    case 2: return (t % n) != n - 1;
    case 3: return (t % n) < (n + 1) / 2;
    default: return t != n;  // 4, 5: one low tick at terminal count
  }
}

uint64_t Pit8254::rising_edges(const Channel& c, uint64_t now) const {
  if (!c.counting) return 0;
  const uint64_t t = ticks(c, now);
  const uint64_t n = c.reload;
  switch (c.mode) {
    case 0: case 1: return t >= n ? 1 : 0;
    case 2: case 3: return t / n;
    default: return t > n ? 1 : 0;
  }
}

void Pit8254::load(Channel& c, uint32_t value, uint64_t now) {
  c.reload = value == 0 ? 0x10000 : value;
  c.null_count = false;
  c.held_ticks = 0;
  c.start_ns = now;
  c.edges_seen = 0;
  // Modes 1 and 5 wait for a rising gate edge; the others start counting now.
  c.counting = !(c.mode == 1 || c.mode == 5);
}

void Pit8254::set_gate(int channel, bool high) {
  if (channel < 0 || channel > 2) return;
  std::lock_guard lock(mutex_);
  Channel& c = ch_[channel];
  const uint64_t now = clock_();
  if (high == c.gate) return;
  if (!high) {
    c.held_ticks = ticks(c, now);  // freeze (modes 0, 4) or remember for restart
  } else {
    c.start_ns = now;
    if (c.mode == 1 || c.mode == 5 || c.mode == 2 || c.mode == 3) {
      // A rising gate (re)triggers: the count restarts from the reload value.
      if (!c.null_count) c.counting = true;
      c.held_ticks = 0;
      c.edges_seen = 0;
    }
  }
  c.gate = high;
}

bool Pit8254::gate(int channel) const {
  std::lock_guard lock(mutex_);
  return channel >= 0 && channel <= 2 && ch_[channel].gate;
}

bool Pit8254::output(int channel) {
  if (channel < 0 || channel > 2) return false;
  std::lock_guard lock(mutex_);
  return output_at(ch_[channel], clock_());
}

uint16_t Pit8254::count(int channel) {
  if (channel < 0 || channel > 2) return 0;
  std::lock_guard lock(mutex_);
  return count_at(ch_[channel], clock_());
}

void Pit8254::tick() {
  std::lock_guard lock(mutex_);
  Channel& c = ch_[0];
  const uint64_t edges = rising_edges(c, clock_());
  if (edges > c.edges_seen) {
    // Missed periods are coalesced into one interrupt, as a late PIC would see them.
    c.edges_seen = edges;
    irq0_.pulse();
  }
}

uint64_t Pit8254::next_event_ns() {
  std::lock_guard lock(mutex_);
  const Channel& c = ch_[0];
  if (!c.counting) return 0;
  const uint64_t now = clock_();
  const uint64_t t = ticks(c, now);
  const uint64_t n = c.reload;
  uint64_t target;  // in ticks since start
  if (c.mode == 2 || c.mode == 3) target = (t / n + 1) * n;
  else if ((c.mode == 0 || c.mode == 1) && t < n) target = n;
  else if ((c.mode == 4 || c.mode == 5) && t <= n) target = n + 1;
  else return 0;
  __extension__ const uint64_t due = c.start_ns + static_cast<uint64_t>(
      (static_cast<unsigned __int128>(target - c.held_ticks) * kNsPerSecond + kHz - 1) / kHz);
  return due > now ? due - now : 1;
}

uint8_t Pit8254::read_counter(Channel& c, uint64_t now) {
  if (c.status_latched) {
    c.status_latched = false;
    return c.status;
  }
  uint16_t value = c.latched ? c.latch : count_at(c, now);
  uint8_t byte;
  if (c.access == 1) {
    byte = static_cast<uint8_t>(value);
    c.latched = false;
  } else if (c.access == 2) {
    byte = static_cast<uint8_t>(value >> 8);
    c.latched = false;
  } else {
    byte = c.read_msb_next ? static_cast<uint8_t>(value >> 8) : static_cast<uint8_t>(value);
    if (c.read_msb_next) c.latched = false;
    c.read_msb_next = !c.read_msb_next;
  }
  return byte;
}

void Pit8254::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  const uint64_t now = clock_();
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t port = offset + i;
    data[i] = port < 3 ? read_counter(ch_[port], now) : 0xFF;  // the control word is write-only
  }
}

void Pit8254::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  const uint64_t now = clock_();
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t port = offset + i;
    const uint8_t v = data[i];
    if (port < 3) {
      Channel& c = ch_[port];
      if (c.access == 1) {
        load(c, v, now);
      } else if (c.access == 2) {
        load(c, static_cast<uint32_t>(v) << 8, now);
      } else if (!c.write_msb_next) {
        c.write_lsb = v;
        c.write_msb_next = true;
        if (c.mode == 0) c.counting = false;  // mode 0: writing the first byte stops the count
      } else {
        c.write_msb_next = false;
        load(c, c.write_lsb | (static_cast<uint32_t>(v) << 8), now);
      }
      continue;
    }
    if (port != 3) continue;
    const unsigned sc = v >> 6;
    if (sc == 3) {  // read-back: bit 5 clear = latch count, bit 4 clear = latch status
      for (int n = 0; n < 3; ++n) {
        if (!(v & (2u << n))) continue;
        Channel& c = ch_[static_cast<size_t>(n)];
        if (!(v & 0x20) && !c.latched) {
          c.latched = true;
          c.latch = count_at(c, now);
          c.read_msb_next = false;
        }
        if (!(v & 0x10) && !c.status_latched) {
          c.status_latched = true;
          c.status = static_cast<uint8_t>((output_at(c, now) ? 0x80 : 0) | (c.null_count ? 0x40 : 0) |
                                          (c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0));
        }
      }
      continue;
    }
    Channel& c = ch_[sc];
    const unsigned rw = (v >> 4) & 3;
    if (rw == 0) {  // counter latch command
      if (!c.latched) {
        c.latched = true;
        c.latch = count_at(c, now);
        c.read_msb_next = false;
      }
      continue;
    }
    c.access = static_cast<uint8_t>(rw);
    unsigned mode = (v >> 1) & 7;
    if (mode >= 6) mode -= 4;  // 6 and 7 alias modes 2 and 3
    c.mode = static_cast<uint8_t>(mode);
    c.bcd = v & 1;
    c.counting = false;
    c.null_count = true;
    c.write_msb_next = false;
    c.read_msb_next = false;
    c.latched = false;
    c.status_latched = false;
  }
}

void PortB::read(uint64_t offset, std::span<uint8_t> data) {
  if (offset != 0 || data.empty()) {
    for (auto& b : data) b = 0xFF;
    return;
  }
  uint8_t v;
  {
    std::lock_guard lock(mutex_);
    v = control_ & 0x0F;
  }
  if ((clock_() / kRefreshPeriodNs) & 1) v |= 0x10;
  if (pit_.output(2)) v |= 0x20;
  data[0] = v;
  for (size_t i = 1; i < data.size(); ++i) data[i] = 0xFF;
}

void PortB::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0 || data.empty()) return;
  {
    std::lock_guard lock(mutex_);
    control_ = data[0] & 0x0F;
  }
  pit_.set_gate(2, data[0] & 1);
}

}  // namespace kvpc
