// SharedIrqLine: wired-OR of level-triggered PCI INTx sources (all disks share GSI 11).
#include <gtest/gtest.h>

#include <vector>

#include "devices/shared_irq_line.h"

namespace kvpc {
namespace {

class RecordingLine final : public IrqLine {
 public:
  void set_level(bool asserted) override { levels.push_back(asserted); }
  std::vector<bool> levels;
};

TEST(SharedIrqLine, OutputStaysHighUntilEveryInputIsLow) {
  RecordingLine output;
  SharedIrqLine shared(output, 2);
  shared.input(0).set_level(true);
  shared.input(1).set_level(true);
  shared.input(0).set_level(false);
  EXPECT_TRUE(shared.level()) << "disk 1 still asserts";
  shared.input(1).set_level(false);
  EXPECT_FALSE(shared.level());
  // Only the edges of the OR reach the interrupt controller.
  EXPECT_EQ(output.levels, (std::vector<bool>{true, false}));
}

TEST(SharedIrqLine, RepeatedLevelsFromOneInputAreIdempotent) {
  RecordingLine output;
  SharedIrqLine shared(output, 1);
  shared.input(0).set_level(false);
  shared.input(0).set_level(true);
  shared.input(0).set_level(true);
  shared.input(0).set_level(false);
  shared.input(0).set_level(false);
  EXPECT_EQ(output.levels, (std::vector<bool>{true, false}));
}

}  // namespace
}  // namespace kvpc
