#include "devices/fixed_ring.h"

#include <gtest/gtest.h>

namespace kvpc {
namespace {

TEST(FixedRingTest, PopsInPushOrder) {
  FixedRing<int, 4> ring;
  ring.push(1);
  ring.push(2);
  ring.push(3);

  EXPECT_EQ(ring.pop(), 1);
  EXPECT_EQ(ring.pop(), 2);
  EXPECT_EQ(ring.pop(), 3);
  EXPECT_TRUE(ring.empty());
}

TEST(FixedRingTest, PushFailsWhenFullAndLeavesContentsAlone) {
  FixedRing<int, 2> ring;
  ring.push(1);
  ring.push(2);

  const bool pushed = ring.push(3);

  EXPECT_FALSE(pushed);
  EXPECT_TRUE(ring.full());
  EXPECT_EQ(ring.space(), 0u);
  EXPECT_EQ(ring.at(0), 1);
  EXPECT_EQ(ring.at(1), 2);
}

TEST(FixedRingTest, PushOverwritingDropsTheOldest) {
  FixedRing<int, 3> ring;
  for (int i = 1; i <= 5; ++i) ring.push_overwriting(i);

  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.at(0), 3);
  EXPECT_EQ(ring.at(2), 5);
}

TEST(FixedRingTest, WrapsAroundTheStorageManyTimes) {
  FixedRing<int, 3> ring;
  for (int i = 0; i < 100; ++i) {
    ring.push(i);
    ring.push(i + 1000);
    EXPECT_EQ(ring.pop(), i);
    EXPECT_EQ(ring.pop(), i + 1000);
  }
  EXPECT_TRUE(ring.empty());
}

TEST(FixedRingTest, ClearEmptiesTheRing) {
  FixedRing<int, 3> ring;
  ring.push(7);

  ring.clear();

  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.space(), 3u);
}

}  // namespace
}  // namespace kvpc
