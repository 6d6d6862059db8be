#include "devices/debugcon.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

TEST(DebugconTest, ReadReturnsThePresenceValue0xE9) {
  CaptureCharBackend output;
  Debugcon debugcon(output);

  EXPECT_EQ(testing::read_port(debugcon, 0), 0xE9u);
}

TEST(DebugconTest, WrittenBytesGoToTheBackendInOrder) {
  CaptureCharBackend output;
  Debugcon debugcon(output);

  for (char c : std::string("hello\n")) testing::write_port(debugcon, 0, static_cast<uint8_t>(c));

  EXPECT_EQ(output.text(), "hello\n");
}

TEST(DebugconTest, WideWriteSendsOnlyTheByteOnPort0xE9) {
  CaptureCharBackend output;
  Debugcon debugcon(output);

  testing::write_port(debugcon, 0, 0x44434241, 4);

  EXPECT_EQ(output.text(), "A");
}

TEST(DebugconTest, WideReadFillsBytesPastThePortWithOnes) {
  CaptureCharBackend output;
  Debugcon debugcon(output);

  EXPECT_EQ(testing::read_port(debugcon, 0, 2), 0xFFE9u);
}

TEST(DebugconTest, NameIsDebugcon) {
  CaptureCharBackend output;
  Debugcon debugcon(output);

  EXPECT_EQ(debugcon.name(), "debugcon");
}

}  // namespace
}  // namespace kvpc
