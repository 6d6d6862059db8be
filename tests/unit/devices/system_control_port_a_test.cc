#include "devices/system_control_port_a.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::RecordingPowerControl;

TEST(SystemControlPortATest, WritingBitZeroRequestsReset) {
  RecordingPowerControl power;
  SystemControlPortA port(power);

  testing::write_port(port, 0, 0x01);

  EXPECT_EQ(power.resets(), 1);
  EXPECT_TRUE(power.poweroffs().empty());
}

TEST(SystemControlPortATest, WritingWithoutBitZeroDoesNotReset) {
  RecordingPowerControl power;
  SystemControlPortA port(power);

  testing::write_port(port, 0, 0xFE);

  EXPECT_EQ(power.resets(), 0);
}

TEST(SystemControlPortATest, A20BitIsStoredAndReadBack) {
  RecordingPowerControl power;
  SystemControlPortA port(power);

  testing::write_port(port, 0, 0x02);
  const uint64_t enabled = testing::read_port(port, 0);
  const bool a20_on = port.a20_enabled();
  testing::write_port(port, 0, 0x00);

  EXPECT_EQ(enabled, 0x02u);
  EXPECT_TRUE(a20_on);
  EXPECT_FALSE(port.a20_enabled());
}

TEST(SystemControlPortATest, FastResetBitReadsBackZero) {
  RecordingPowerControl power;
  SystemControlPortA port(power);

  testing::write_port(port, 0, 0x03);

  EXPECT_EQ(testing::read_port(port, 0), 0x02u);
  EXPECT_EQ(power.resets(), 1);
}

TEST(SystemControlPortATest, PowersOnWithA20OffAndResetClearsIt) {
  RecordingPowerControl power;
  SystemControlPortA port(power);
  const uint64_t at_power_on = testing::read_port(port, 0);
  testing::write_port(port, 0, 0x02);

  port.reset();

  EXPECT_EQ(at_power_on, 0u);
  EXPECT_FALSE(port.a20_enabled());
}

TEST(SystemControlPortATest, WideAccessOnlyTouchesPort0x92) {
  RecordingPowerControl power;
  SystemControlPortA port(power);

  testing::write_port(port, 0, 0x0102, 2);  // the 0x01 lands on port 0x93

  EXPECT_EQ(power.resets(), 0);
  EXPECT_EQ(testing::read_port(port, 0, 2), 0xFF02u);
}

}  // namespace
}  // namespace kvpc
