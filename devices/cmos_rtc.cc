#include "devices/cmos_rtc.h"

#include <chrono>
#include <ctime>

namespace kvpc {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

// Days since 1970-01-01 -> civil date (proleptic Gregorian), and back.
void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0));
}

int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

}  // namespace

int64_t CmosRtc::host_clock() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

CmosRtc::CmosRtc(IrqLine& irq, Clock clock) : irq_(irq), clock_(std::move(clock)) {
  regs_[kRegA] = 0x26;             // 32.768 kHz time base, 1024 Hz periodic rate
  regs_[kRegB] = kHour24;          // BCD, 24-hour, interrupts off (as PC firmware expects)
  regs_[kRegD] = 0x80;             // VRT: the battery is good
  const int64_t now = clock_();
  last_second_ = guest_seconds(now);
  last_period_ = 0;
}

void CmosRtc::set_ram(uint8_t index, uint8_t value) {
  std::lock_guard lock(mutex_);
  if (index >= 0x0E && index < 128) regs_[index] = value;
}

uint8_t CmosRtc::ram(uint8_t index) const {
  std::lock_guard lock(mutex_);
  return index < 128 ? regs_[index] : 0xFF;
}

bool CmosRtc::nmi_masked() const {
  std::lock_guard lock(mutex_);
  return nmi_masked_;
}

int64_t CmosRtc::guest_seconds(int64_t now_ns) const { return floor_div(now_ns, kNsPerSecond) + offset_seconds_; }

uint64_t CmosRtc::periodic_period_ns() const {
  std::lock_guard lock(mutex_);
  const unsigned rate = regs_[kRegA] & 0x0F;
  if (!(regs_[kRegB] & kPie) || rate == 0) return 0;
  const unsigned shift = rate <= 2 ? rate + 6 : rate - 1;  // 1 -> 256 Hz, 2 -> 128 Hz
  const uint64_t hz = 32768u >> shift;
  return hz ? 1'000'000'000ULL / hz : 0;
}

uint8_t CmosRtc::encode(unsigned v) const {
  if (regs_[kRegB] & kBinary) return static_cast<uint8_t>(v);
  return static_cast<uint8_t>(((v / 10) << 4) | (v % 10));
}

unsigned CmosRtc::decode(uint8_t v) const {
  if (regs_[kRegB] & kBinary) return v;
  return (v >> 4) * 10u + (v & 0x0F);
}

uint8_t CmosRtc::encode_hour(unsigned hour) const {
  if (regs_[kRegB] & kHour24) return encode(hour);
  const bool pm = hour >= 12;
  unsigned h12 = hour % 12;
  if (h12 == 0) h12 = 12;
  return static_cast<uint8_t>(encode(h12) | (pm ? 0x80 : 0));
}

unsigned CmosRtc::decode_hour(uint8_t v) const {
  if (regs_[kRegB] & kHour24) return decode(v);
  const bool pm = v & 0x80;
  unsigned h = decode(static_cast<uint8_t>(v & 0x7F)) % 12;
  return pm ? h + 12 : h;
}

void CmosRtc::update_flags(int64_t now_ns) {
  const int64_t sec = guest_seconds(now_ns);
  if (sec != last_second_ && !(regs_[kRegB] & kSet)) {
    regs_[kRegC] |= kUf;
    // Alarm: compare each passed second (at most a day's worth) with the alarm registers;
    // an alarm byte with its two top bits set (0xC0-0xFF) matches anything.
    const int64_t from = sec - last_second_ > 86400 ? sec - 86400 : last_second_ + 1;
    for (int64_t s = from; s <= sec; ++s) {
      const int64_t in_day = ((s % 86400) + 86400) % 86400;
      auto match = [&](uint8_t alarm, unsigned value, bool hour) {
        if ((alarm & 0xC0) == 0xC0) return true;
        return (hour ? decode_hour(alarm) : decode(alarm)) == value;
      };
      if (match(regs_[0x01], static_cast<unsigned>(in_day % 60), false) &&
          match(regs_[0x03], static_cast<unsigned>((in_day / 60) % 60), false) &&
          match(regs_[0x05], static_cast<unsigned>(in_day / 3600), true)) {
        regs_[kRegC] |= kAf;
        break;
      }
    }
    last_second_ = sec;
  }
  const unsigned rate = regs_[kRegA] & 0x0F;
  if (rate != 0) {
    const unsigned shift = rate <= 2 ? rate + 6 : rate - 1;
    const int64_t period = kNsPerSecond / static_cast<int64_t>(32768u >> shift);
    const int64_t index = now_ns / period;
    if (index != last_period_) {
      regs_[kRegC] |= kPf;
      last_period_ = index;
    }
  }
  const uint8_t enabled = regs_[kRegB] & (kPie | kAie | kUie);
  if (regs_[kRegC] & enabled & (kPf | kAf | kUf)) regs_[kRegC] |= kIrqf;
}

void CmosRtc::update_irq() {
  const bool level = (regs_[kRegC] & kIrqf) != 0;
  if (level != irq_level_) {
    irq_level_ = level;
    irq_.set_level(level);
  }
}

void CmosRtc::tick() {
  std::lock_guard lock(mutex_);
  update_flags(clock_());
  update_irq();
}

uint8_t CmosRtc::read_register(uint8_t index, int64_t now_ns) {
  if (index <= 9 && index != 1 && index != 3 && index != 5) {
    if (regs_[kRegB] & kSet) return set_time_[index];
    const int64_t sec = guest_seconds(now_ns);
    int64_t days = floor_div(sec, 86400);
    const int64_t in_day = sec - days * 86400;
    int year;
    unsigned month, day;
    civil_from_days(days, year, month, day);
    switch (index) {
      case 0: return encode(static_cast<unsigned>(in_day % 60));
      case 2: return encode(static_cast<unsigned>((in_day / 60) % 60));
      case 4: return encode_hour(static_cast<unsigned>(in_day / 3600));
      case 6: return encode(static_cast<unsigned>(((days % 7) + 7 + 4) % 7) + 1);  // 1970-01-01 was a Thursday; Sunday = 1
      case 7: return encode(day);
      case 8: return encode(month);
      default: return encode(static_cast<unsigned>(year % 100));
    }
  }
  switch (index) {
    case kRegA: {
      const int64_t into_second = ((now_ns % kNsPerSecond) + kNsPerSecond) % kNsPerSecond;
      const bool uip = !(regs_[kRegB] & kSet) && into_second >= kNsPerSecond - static_cast<int64_t>(kUipWindowNs);
      return static_cast<uint8_t>((regs_[kRegA] & 0x7F) | (uip ? kUip : 0));
    }
    case kRegC: {
      update_flags(now_ns);
      const uint8_t v = regs_[kRegC];
      regs_[kRegC] = 0;
      update_irq();
      return v;
    }
    case 0x32:  // century: kept in CMOS RAM by PC firmware, derived from the clock here
      return encode(static_cast<unsigned>(
          [&] {
            int year;
            unsigned m, d;
            civil_from_days(floor_div(guest_seconds(now_ns), 86400), year, m, d);
            return year / 100;
          }()));
    default: return regs_[index];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value, int64_t now_ns) {
  if (index <= 9) {
    if (index == 1 || index == 3 || index == 5) {
      regs_[index] = value;  // alarm
      return;
    }
    // Capture the whole current time, replace one field, and move the offset so the
    // clock reads the new time from now on.
    std::array<uint8_t, 10> t{};
    if (regs_[kRegB] & kSet) {
      t = set_time_;
    } else {
      for (uint8_t i : {0, 2, 4, 6, 7, 8, 9}) t[i] = read_register(i, now_ns);
    }
    t[index] = value;
    if (regs_[kRegB] & kSet) {
      set_time_ = t;  // applied when SET is released
      return;
    }
    const int year = 2000 + static_cast<int>(decode(t[9]) % 100);
    const unsigned month = decode(t[8]), day = decode(t[7]);
    if (month < 1 || month > 12 || day < 1 || day > 31) return;  // nonsense: the clock keeps its time
    const int64_t secs = days_from_civil(year, month, day) * 86400 + decode_hour(t[4]) * 3600LL +
                         decode(t[2]) * 60LL + decode(t[0]);
    offset_seconds_ = secs - floor_div(now_ns, kNsPerSecond);
    last_second_ = guest_seconds(now_ns);
    return;
  }
  switch (index) {
    case kRegA: regs_[kRegA] = value & 0x7F; return;  // UIP is read-only
    case kRegB: {
      const bool was_set = regs_[kRegB] & kSet;
      if (!was_set && (value & kSet)) {
        for (uint8_t i : {0, 2, 4, 6, 7, 8, 9}) set_time_[i] = read_register(i, now_ns);
      }
      if (value & kSet) value &= static_cast<uint8_t>(~kUie);  // SET clears UIE (MC146818)
      regs_[kRegB] = value;
      if (was_set && !(value & kSet)) {
        // Releasing SET: the registers written meanwhile become the time (decoded in the
        // data mode register B now selects).
        std::array<uint8_t, 10> t = set_time_;
        const int year = 2000 + static_cast<int>(decode(t[9]) % 100);
        const unsigned month = decode(t[8]), day = decode(t[7]);
        if (month >= 1 && month <= 12 && day >= 1 && day <= 31) {
          const int64_t secs = days_from_civil(year, month, day) * 86400 + decode_hour(t[4]) * 3600LL +
                               decode(t[2]) * 60LL + decode(t[0]);
          offset_seconds_ = secs - floor_div(now_ns, kNsPerSecond);
          last_second_ = guest_seconds(now_ns);
        }
      }
      update_flags(now_ns);
      update_irq();
      return;
    }
    case kRegC: case kRegD: return;  // read-only
    default: regs_[index] = value; return;
  }
}

void CmosRtc::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t port = offset + i;
    if (port == 0) data[i] = static_cast<uint8_t>(index_ | (nmi_masked_ ? 0x80 : 0));
    else if (port == 1) data[i] = read_register(index_, clock_());
    else data[i] = 0xFF;
  }
}

void CmosRtc::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t port = offset + i;
    if (port == 0) {
      index_ = data[i] & 0x7F;
      nmi_masked_ = (data[i] & 0x80) != 0;
    } else if (port == 1) {
      write_register(index_, data[i], clock_());
    }
  }
}

}  // namespace kvpc
