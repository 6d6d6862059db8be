#include "devices/post_port.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

// A clock the test moves by hand.
struct FakeClock {
  uint64_t now_ns = 0;
  NanosecondClock as_function() {
    return [this] { return now_ns; };
  }
};

TEST(PostPortTest, EachCodeIsRecordedWithTheClockTimeOfItsWrite) {
  FakeClock clock;
  PostPort post(clock.as_function());

  clock.now_ns = 1000;
  testing::write_port(post, 0, 0x11);
  clock.now_ns = 2500;
  testing::write_port(post, 0, 0x22);

  EXPECT_EQ(post.entries(), (std::vector<PostCode>{{1000, 0x11}, {2500, 0x22}}));
  EXPECT_EQ(post.total_writes(), 2u);
}

TEST(PostPortTest, ReadReturnsTheLastCodeWritten) {
  FakeClock clock;
  PostPort post(clock.as_function());
  const uint64_t before_any = testing::read_port(post, 0);

  testing::write_port(post, 0, 0x5A);
  testing::write_port(post, 0, 0xA5);

  EXPECT_EQ(before_any, 0u);
  EXPECT_EQ(testing::read_port(post, 0), 0xA5u);
  EXPECT_EQ(post.last_code(), 0xA5);
}

TEST(PostPortTest, RingKeepsTheNewestEntriesWhenItWraps) {
  FakeClock clock;
  PostPort post(clock.as_function());
  const size_t extra = 6;

  for (size_t i = 0; i < PostPort::kCapacity + extra; ++i) {
    clock.now_ns = i;
    testing::write_port(post, 0, i & 0xFF);
  }
  const auto entries = post.entries();

  ASSERT_EQ(entries.size(), PostPort::kCapacity);
  EXPECT_EQ(entries.front(), (PostCode{extra, static_cast<uint8_t>(extra)}));
  const size_t last = PostPort::kCapacity + extra - 1;
  EXPECT_EQ(entries.back(), (PostCode{last, static_cast<uint8_t>(last & 0xFF)}));
  EXPECT_EQ(post.total_writes(), PostPort::kCapacity + extra);
}

TEST(PostPortTest, WideWriteRecordsOnlyTheByteOnPort0x80) {
  FakeClock clock;
  PostPort post(clock.as_function());

  testing::write_port(post, 0, 0xBEEF, 2);

  EXPECT_EQ(post.entries(), (std::vector<PostCode>{{0, 0xEF}}));
  EXPECT_EQ(testing::read_port(post, 0, 2), 0xFFEFu);
}

TEST(PostPortTest, DefaultClockStartsNearZeroAndNeverGoesBack) {
  PostPort post;

  testing::write_port(post, 0, 1);
  testing::write_port(post, 0, 2);
  const auto entries = post.entries();

  ASSERT_EQ(entries.size(), 2u);
  EXPECT_LT(entries[0].timestamp_ns, 10'000'000'000ull);
  EXPECT_LE(entries[0].timestamp_ns, entries[1].timestamp_ns);
}

TEST(PostPortTest, NameIsPost) {
  PostPort post;

  EXPECT_EQ(post.name(), "post");
}

}  // namespace
}  // namespace kvpc
