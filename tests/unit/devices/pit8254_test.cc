// 8254 PIT: counting from a fake clock, modes 0/2/3, latch and read-back, channel 2 gate and
// output through port 0x61, IRQ 0 edges.
#include "devices/pit8254.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::read_port;
using testing::RecordingIrqLine;
using testing::write_port;

struct Fixture {
  uint64_t now = 1'000'000'000;
  RecordingIrqLine irq;
  Pit8254 pit{irq, [this] { return now; }};
  PortB port_b{pit, [this] { return now; }};
  // ticks of the 1.193182 MHz input clock -> ns (rounded up)
  static uint64_t ns(uint64_t ticks) { return (ticks * 1'000'000'000ULL + Pit8254::kHz - 1) / Pit8254::kHz; }
};

TEST(Pit8254, Channel2Mode0OutputGoesHighAtTerminalCountSeenOnPort61) {
  Fixture f;
  write_port(f.port_b, 0, 0x01);           // gate 2 high, speaker off
  write_port(f.pit, 3, 0xB0);              // channel 2, LSB+MSB, mode 0, binary
  write_port(f.pit, 2, 0x00);
  write_port(f.pit, 2, 0x08);              // 0x800 ticks, as SeaBIOS calibrates
  EXPECT_EQ(read_port(f.port_b, 0) & 0x20, 0u);
  f.now += Fixture::ns(0x7FF);
  EXPECT_EQ(read_port(f.port_b, 0) & 0x20, 0u);
  f.now += Fixture::ns(2);
  EXPECT_EQ(read_port(f.port_b, 0) & 0x21, 0x21u) << "OUT2 high, gate bit reads back";
}

TEST(Pit8254, GateLowStopsMode0Counting) {
  Fixture f;
  write_port(f.pit, 3, 0xB0);
  write_port(f.pit, 2, 0x00);
  write_port(f.pit, 2, 0x01);  // 256
  f.now += Fixture::ns(1000);
  EXPECT_EQ(f.pit.count(2), 256) << "gate 2 is low at power-on";
  write_port(f.port_b, 0, 0x01);
  f.now += Fixture::ns(100);
  EXPECT_NEAR(f.pit.count(2), 156, 1);
}

TEST(Pit8254, LatchAndReadBackFreezeTheCountAndReportStatus) {
  Fixture f;
  write_port(f.pit, 3, 0x34);  // channel 0, LSB+MSB, mode 2
  write_port(f.pit, 0, 0x00);
  write_port(f.pit, 0, 0x10);  // 0x1000
  f.now += Fixture::ns(0x100);
  write_port(f.pit, 3, 0x00);  // latch channel 0
  f.now += Fixture::ns(0x200);
  const uint64_t lo = read_port(f.pit, 0), hi = read_port(f.pit, 0);
  EXPECT_NEAR(static_cast<int>((hi << 8) | lo), 0x0F00, 1);
  write_port(f.pit, 3, 0xC2);  // read-back: count and status of channel 0
  const uint64_t status = read_port(f.pit, 0);
  EXPECT_EQ(status & 0x3F, 0x34u) << "access LSB+MSB, mode 2, binary";
  EXPECT_EQ(status & 0x40, 0u) << "count loaded";
  const uint64_t l2 = read_port(f.pit, 0), h2 = read_port(f.pit, 0);
  EXPECT_NEAR(static_cast<int>((h2 << 8) | l2), 0x0D00, 1);
}

TEST(Pit8254, Channel0RateGeneratorPulsesIrq0OncePerPeriod) {
  Fixture f;
  write_port(f.pit, 3, 0x34);
  write_port(f.pit, 0, 0x00);
  write_port(f.pit, 0, 0x00);  // 0 = 65536: the BIOS's 18.2 Hz
  EXPECT_NEAR(static_cast<double>(f.pit.next_event_ns()), 54'925'000.0, 2000.0);
  f.pit.tick();
  EXPECT_TRUE(f.irq.levels().empty());
  f.now += Fixture::ns(65536);
  f.pit.tick();
  EXPECT_EQ(f.irq.levels(), (std::vector<bool>{true, false}));
  f.pit.tick();
  EXPECT_EQ(f.irq.levels().size(), 2u) << "no edge twice";
  f.now += Fixture::ns(3 * 65536);
  f.pit.tick();
  EXPECT_EQ(f.irq.levels().size(), 4u) << "missed periods coalesce into one edge";
}

TEST(Pit8254, SquareWaveOutputIsHighForTheFirstHalf) {
  Fixture f;
  write_port(f.port_b, 0, 0x01);
  write_port(f.pit, 3, 0xB6);  // channel 2, mode 3
  write_port(f.pit, 2, 100);
  write_port(f.pit, 2, 0);
  f.now += Fixture::ns(10);
  EXPECT_TRUE(f.pit.output(2));
  f.now += Fixture::ns(50);
  EXPECT_FALSE(f.pit.output(2));
}

TEST(Pit8254, RefreshBitToggles) {
  Fixture f;
  const uint64_t a = read_port(f.port_b, 0) & 0x10;
  f.now += 15'085;
  EXPECT_NE(read_port(f.port_b, 0) & 0x10, a);
}

}  // namespace
}  // namespace kvpc
