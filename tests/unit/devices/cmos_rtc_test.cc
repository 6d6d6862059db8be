// MC146818 CMOS/RTC: clock against host time, BCD/binary and 12/24-hour, SET, UIP, register C
// flags and IRQ 8 (periodic, update, alarm), NMI mask, CMOS RAM.
#include "devices/cmos_rtc.h"

#include <gtest/gtest.h>

#include <ctime>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::read_port;
using testing::RecordingIrqLine;
using testing::write_port;

constexpr int64_t kSec = 1'000'000'000;
// 2024-02-29 13:45:30 UTC
constexpr int64_t kLeapDay = 1709214330LL * kSec;

struct FakeClock {
  int64_t now = kLeapDay;
};

uint8_t reg(CmosRtc& rtc, uint8_t index) {
  write_port(rtc, 0, index);
  return static_cast<uint8_t>(read_port(rtc, 1));
}
void set_reg(CmosRtc& rtc, uint8_t index, uint8_t value) {
  write_port(rtc, 0, index);
  write_port(rtc, 1, value);
}

TEST(CmosRtc, ReadsTheHostClockInBcdByDefault) {
  RecordingIrqLine irq;
  FakeClock clock;
  CmosRtc rtc(irq, [&] { return clock.now; });
  EXPECT_EQ(reg(rtc, 0x00), 0x30);
  EXPECT_EQ(reg(rtc, 0x02), 0x45);
  EXPECT_EQ(reg(rtc, 0x04), 0x13);
  EXPECT_EQ(reg(rtc, 0x07), 0x29);
  EXPECT_EQ(reg(rtc, 0x08), 0x02);
  EXPECT_EQ(reg(rtc, 0x09), 0x24);
  EXPECT_EQ(reg(rtc, 0x32), 0x20) << "century";
  EXPECT_EQ(reg(rtc, 0x06), 0x05) << "Thursday (Sunday = 1)";
  clock.now += 31 * kSec;
  EXPECT_EQ(reg(rtc, 0x00), 0x01) << "the clock runs";
  EXPECT_EQ(reg(rtc, 0x02), 0x46);
}

TEST(CmosRtc, MatchesRealHostTime) {
  RecordingIrqLine irq;
  CmosRtc rtc(irq);
  set_reg(rtc, CmosRtc::kRegB, CmosRtc::kHour24 | CmosRtc::kBinary);
  const time_t before = time(nullptr);
  const int sec = reg(rtc, 0), min = reg(rtc, 2), hour = reg(rtc, 4);
  const time_t after = time(nullptr);
  tm b{}, a{};
  gmtime_r(&before, &b);
  gmtime_r(&after, &a);
  const int got = hour * 3600 + min * 60 + sec;
  const int lo = b.tm_hour * 3600 + b.tm_min * 60 + b.tm_sec, hi = a.tm_hour * 3600 + a.tm_min * 60 + a.tm_sec;
  EXPECT_TRUE(got >= lo && got <= hi + 1) << got << " not within [" << lo << ", " << hi << "]";
}

TEST(CmosRtc, BinaryAndTwelveHourModes) {
  RecordingIrqLine irq;
  FakeClock clock;
  CmosRtc rtc(irq, [&] { return clock.now; });
  set_reg(rtc, CmosRtc::kRegB, CmosRtc::kBinary);  // binary, 12-hour
  EXPECT_EQ(reg(rtc, 0x00), 30);
  EXPECT_EQ(reg(rtc, 0x04), 0x80 | 1) << "1 PM";
  set_reg(rtc, CmosRtc::kRegB, CmosRtc::kBinary | CmosRtc::kHour24);
  EXPECT_EQ(reg(rtc, 0x04), 13);
}

TEST(CmosRtc, GuestSetsTheTimeWithSetHeldAndItKeepsRunning) {
  RecordingIrqLine irq;
  FakeClock clock;
  CmosRtc rtc(irq, [&] { return clock.now; });
  set_reg(rtc, CmosRtc::kRegB, CmosRtc::kSet | CmosRtc::kHour24);
  set_reg(rtc, 0x04, 0x08);
  set_reg(rtc, 0x02, 0x00);
  set_reg(rtc, 0x00, 0x00);
  set_reg(rtc, 0x07, 0x01);
  set_reg(rtc, 0x08, 0x01);
  set_reg(rtc, 0x09, 0x30);
  clock.now += 5 * kSec;
  EXPECT_EQ(reg(rtc, 0x04), 0x08) << "frozen while SET";
  set_reg(rtc, CmosRtc::kRegB, CmosRtc::kHour24);
  clock.now += 61 * kSec;
  EXPECT_EQ(reg(rtc, 0x00), 0x01);
  EXPECT_EQ(reg(rtc, 0x02), 0x01);
  EXPECT_EQ(reg(rtc, 0x09), 0x30);
  EXPECT_EQ(reg(rtc, 0x08), 0x01);
}

TEST(CmosRtc, UpdateInProgressIsSetOnlyInTheLast244MicrosecondsOfASecond) {
  RecordingIrqLine irq;
  FakeClock clock;
  CmosRtc rtc(irq, [&] { return clock.now; });
  clock.now = kLeapDay + 500'000'000;
  EXPECT_EQ(reg(rtc, CmosRtc::kRegA) & CmosRtc::kUip, 0);
  clock.now = kLeapDay + kSec - 100'000;
  EXPECT_EQ(reg(rtc, CmosRtc::kRegA) & CmosRtc::kUip, CmosRtc::kUip);
  EXPECT_EQ(reg(rtc, CmosRtc::kRegA) & 0x7F, 0x26) << "divider and rate as firmware left them";
  EXPECT_EQ(reg(rtc, CmosRtc::kRegD), 0x80) << "VRT";
}

TEST(CmosRtc, PeriodicInterruptRaisesIrq8UntilRegisterCIsRead) {
  RecordingIrqLine irq;
  FakeClock clock;
  CmosRtc rtc(irq, [&] { return clock.now; });
  EXPECT_EQ(rtc.periodic_period_ns(), 0u) << "PIE off";
  set_reg(rtc, CmosRtc::kRegB, CmosRtc::kHour24 | CmosRtc::kPie);
  EXPECT_EQ(rtc.periodic_period_ns(), 976'562u) << "rate 6 = 1024 Hz";
  reg(rtc, CmosRtc::kRegC);
  irq.forget();
  clock.now += 2'000'000;
  rtc.tick();
  EXPECT_TRUE(irq.level());
  const uint8_t c = reg(rtc, CmosRtc::kRegC);
  EXPECT_EQ(c & (CmosRtc::kIrqf | CmosRtc::kPf), CmosRtc::kIrqf | CmosRtc::kPf);
  EXPECT_FALSE(irq.level()) << "reading C lowers IRQ 8";
  EXPECT_EQ(reg(rtc, CmosRtc::kRegC), 0) << "and clears the flags";
}

TEST(CmosRtc, UpdateEndedAndAlarmFlags) {
  RecordingIrqLine irq;
  FakeClock clock;
  CmosRtc rtc(irq, [&] { return clock.now; });
  set_reg(rtc, 0x01, 0x32);  // alarm 13:45:32
  set_reg(rtc, 0x03, 0x45);
  set_reg(rtc, 0x05, 0xC0);  // any hour
  set_reg(rtc, CmosRtc::kRegB, CmosRtc::kHour24 | CmosRtc::kAie);
  reg(rtc, CmosRtc::kRegC);
  clock.now += kSec;  // 13:45:31
  uint8_t c = reg(rtc, CmosRtc::kRegC);
  EXPECT_EQ(c & CmosRtc::kUf, CmosRtc::kUf);
  EXPECT_EQ(c & CmosRtc::kAf, 0);
  EXPECT_EQ(c & CmosRtc::kIrqf, 0) << "UIE off: no IRQF for UF";
  clock.now += kSec;  // 13:45:32
  rtc.tick();
  EXPECT_TRUE(irq.level());
  c = reg(rtc, CmosRtc::kRegC);
  EXPECT_EQ(c & (CmosRtc::kAf | CmosRtc::kIrqf), CmosRtc::kAf | CmosRtc::kIrqf);
}

TEST(CmosRtc, IndexPortMasksNmiAndCmosRamHoldsBytes) {
  RecordingIrqLine irq;
  CmosRtc rtc(irq);
  write_port(rtc, 0, 0x80 | 0x34);
  EXPECT_TRUE(rtc.nmi_masked());
  write_port(rtc, 1, 0x5A);
  EXPECT_EQ(rtc.ram(0x34), 0x5A);
  write_port(rtc, 0, 0x34);
  EXPECT_FALSE(rtc.nmi_masked());
  EXPECT_EQ(read_port(rtc, 1), 0x5Au);
  set_reg(rtc, CmosRtc::kRegD, 0);
  EXPECT_EQ(reg(rtc, CmosRtc::kRegD), 0x80) << "D is read-only";
}

}  // namespace
}  // namespace kvpc
