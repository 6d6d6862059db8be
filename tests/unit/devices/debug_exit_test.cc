#include "devices/debug_exit.h"

#include <tuple>

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::RecordingPowerControl;

struct ExitCase {
  uint64_t value;
  size_t width;
  int status;
};

class DebugExitStatusTest : public ::testing::TestWithParam<ExitCase> {};

TEST_P(DebugExitStatusTest, WriteOfValuePowersOffWithValueShiftedLeftOrOne) {
  const ExitCase c = GetParam();
  RecordingPowerControl power;
  DebugExit debug_exit(power);

  testing::write_port(debug_exit, 0, c.value, c.width);

  EXPECT_EQ(power.poweroffs(), std::vector<int>{c.status});
  EXPECT_EQ(power.resets(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    ValuesAndWidths, DebugExitStatusTest,
    ::testing::Values(ExitCase{0x00, 1, 1}, ExitCase{0x01, 1, 3}, ExitCase{0x10, 1, 0x21}, ExitCase{0xFF, 1, 0x1FF},
                      ExitCase{0x1234, 2, 0x2469}, ExitCase{0x12345678, 4, 0x2468ACF1},
                      ExitCase{0x7FFFFFFF, 4, -1},                    // 0xFFFFFFFF as an int
                      ExitCase{0x100000001ull, 8, 3}));               // computed in 32 bits

TEST(DebugExitTest, WriteToTheSecondPortAlsoPowersOff) {
  RecordingPowerControl power;
  DebugExit debug_exit(power);

  testing::write_port(debug_exit, 1, 0x02, 1);

  EXPECT_EQ(power.poweroffs(), std::vector<int>{5});
}

TEST(DebugExitTest, ReadsReturnZeroAtEveryWidth) {
  RecordingPowerControl power;
  DebugExit debug_exit(power);

  for (size_t width : {1u, 2u, 4u, 8u}) EXPECT_EQ(testing::read_port(debug_exit, 0, width), 0u) << width;
  EXPECT_TRUE(power.poweroffs().empty());
}

TEST(DebugExitTest, ExitStatusIsNeverZero) {
  for (uint64_t value : {0ull, 0x7Full, 0x80ull, 0xFFFFull}) {
    EXPECT_EQ(DebugExit::exit_status_for(value) & 1, 1) << value;
  }
}

}  // namespace
}  // namespace kvpc
