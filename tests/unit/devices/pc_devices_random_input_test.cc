// Hostile guests: random values at every offset and width of the firmware-facing PC devices
// never crash them or make them stop answering.
#include <gtest/gtest.h>

#include <random>

#include "devices/cmos_rtc.h"
#include "devices/fw_cfg.h"
#include "devices/pit8254.h"
#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::read_port;
using testing::RecordingIrqLine;
using testing::write_port;

template <typename Device>
void hammer(Device& device, uint64_t ports, uint64_t seed) {
  std::mt19937_64 random(seed);
  for (int i = 0; i < 20000; ++i) {
    const size_t width = size_t{1} << (random() % 4);
    const uint64_t offset = random() % (ports + 2);
    if (random() & 1) write_port(device, offset, random(), width);
    else read_port(device, offset, width);
  }
}

TEST(PcDevicesRandomInput, CmosRtcSurvivesAndStillAnswers) {
  RecordingIrqLine irq;
  CmosRtc rtc(irq);
  hammer(rtc, CmosRtc::kPortCount, 0x70);
  write_port(rtc, 0, CmosRtc::kRegD);
  EXPECT_EQ(read_port(rtc, 1), 0x80u);
  rtc.tick();
}

TEST(PcDevicesRandomInput, PitAndPortBSurviveAndStillCount) {
  RecordingIrqLine irq;
  Pit8254 pit(irq);
  PortB port_b(pit);
  hammer(pit, Pit8254::kPortCount, 0x40);
  hammer(port_b, PortB::kPortCount, 0x61);
  pit.tick();
  (void)pit.next_event_ns();
  write_port(pit, 3, 0x34);
  write_port(pit, 0, 0x00);
  write_port(pit, 0, 0x10);
  EXPECT_LE(pit.count(0), 0x1000);
}

TEST(PcDevicesRandomInput, FwCfgSurvivesAndStillHasItsSignature) {
  FwCfg fw;
  ASSERT_TRUE(fw.add_file("etc/x", std::vector<uint8_t>(100, 7)).ok());
  hammer(fw, FwCfg::kPortCount, 0x510);
  write_port(fw, 0, FwCfg::kSignature, 2);
  EXPECT_EQ(read_port(fw, 1), uint64_t{'Q'});
}

}  // namespace
}  // namespace kvpc
