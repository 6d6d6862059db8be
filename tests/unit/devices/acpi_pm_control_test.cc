#include "devices/acpi_pm_control.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::RecordingPowerControl;

constexpr uint16_t kSlpEn = 1u << 13;
constexpr uint16_t kSlpTypS5 = 5u << 10;

TEST(AcpiPmControlTest, SixteenBitWriteWithSlpEnPowersOffWithStatusZero) {
  RecordingPowerControl power;
  AcpiPmControl pm(power);

  testing::write_port(pm, 0, kSlpEn | kSlpTypS5, 2);

  EXPECT_EQ(power.poweroffs(), std::vector<int>{0});
}

TEST(AcpiPmControlTest, SlpEnPowersOffWhateverTheSleepType) {
  RecordingPowerControl power;
  AcpiPmControl pm(power);

  testing::write_port(pm, 0, kSlpEn, 2);

  EXPECT_EQ(power.poweroffs(), std::vector<int>{0});
}

TEST(AcpiPmControlTest, WritesWithoutSlpEnAreStoredAndReadBack) {
  RecordingPowerControl power;
  AcpiPmControl pm(power);

  testing::write_port(pm, 0, kSlpTypS5 | 0x0001, 2);

  EXPECT_TRUE(power.poweroffs().empty());
  EXPECT_EQ(testing::read_port(pm, 0, 2), uint64_t{kSlpTypS5 | 0x0001});
}

TEST(AcpiPmControlTest, ReadsNeverShowSlpEn) {
  RecordingPowerControl power;
  AcpiPmControl pm(power);

  testing::write_port(pm, 0, kSlpEn | kSlpTypS5 | 0x0001, 2);

  EXPECT_EQ(testing::read_port(pm, 0, 2), uint64_t{kSlpTypS5 | 0x0001});
  EXPECT_EQ(pm.value(), kSlpTypS5 | 0x0001);
}

TEST(AcpiPmControlTest, ByteWritesUpdateTheirHalf) {
  RecordingPowerControl power;
  AcpiPmControl pm(power);

  testing::write_port(pm, 0, 0x01, 1);
  testing::write_port(pm, 1, 0x14, 1);  // SLP_TYP = 5, SLP_EN clear

  EXPECT_EQ(testing::read_port(pm, 0, 2), 0x1401u);
  EXPECT_EQ(testing::read_port(pm, 1, 1), 0x14u);
  EXPECT_TRUE(power.poweroffs().empty());
}

TEST(AcpiPmControlTest, ByteWriteToTheHighHalfCanSetSlpEn) {
  RecordingPowerControl power;
  AcpiPmControl pm(power);

  testing::write_port(pm, 1, 0x20, 1);

  EXPECT_EQ(power.poweroffs(), std::vector<int>{0});
}

TEST(AcpiPmControlTest, BytesPastTheRegisterAreIgnoredOnWriteAndOnesOnRead) {
  RecordingPowerControl power;
  AcpiPmControl pm(power);

  testing::write_port(pm, 0, 0x20000001u, 4);  // the 0x20 lands on port 0x607

  EXPECT_TRUE(power.poweroffs().empty());
  EXPECT_EQ(testing::read_port(pm, 0, 4), 0xFFFF0001u);
}

}  // namespace
}  // namespace kvpc
