#include "devices/i8042.h"

#include <random>

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::RecordingPowerControl;

constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusInputFull = 0x02;
constexpr uint8_t kStatusSystemFlag = 0x04;
constexpr uint8_t kStatusLastWasCommand = 0x08;

class I8042Test : public ::testing::Test {
 protected:
  uint8_t status() { return static_cast<uint8_t>(testing::read_port(controller_.command_port(), 0)); }
  uint8_t data() { return static_cast<uint8_t>(testing::read_port(controller_.data_port(), 0)); }
  void command(uint8_t value) { testing::write_port(controller_.command_port(), 0, value); }
  void send_data(uint8_t value) { testing::write_port(controller_.data_port(), 0, value); }

  RecordingPowerControl power_;
  I8042 controller_{power_};
};

TEST_F(I8042Test, PortsHaveDistinctNames) {
  EXPECT_EQ(controller_.data_port().name(), "i8042-data");
  EXPECT_EQ(controller_.command_port().name(), "i8042-command");
}

TEST_F(I8042Test, PowerOnStatusHasSystemFlagAndEmptyBuffers) {
  const uint8_t value = status();

  EXPECT_EQ(value & kStatusSystemFlag, kStatusSystemFlag);
  EXPECT_EQ(value & kStatusInputFull, 0);
  EXPECT_EQ(value & kStatusOutputFull, 0);
}

TEST_F(I8042Test, PulseResetCommandRequestsReset) {
  command(0xFE);

  EXPECT_EQ(power_.resets(), 1);
  EXPECT_EQ(controller_.stats().reset_requests, 1u);
}

TEST_F(I8042Test, PulseCommandsIncludingBitZeroRequestReset) {
  command(0xF0);
  command(0xFA);

  EXPECT_EQ(power_.resets(), 2);
}

TEST_F(I8042Test, PulseCommandWithoutBitZeroDoesNotReset) {
  command(0xFF);
  command(0xF1);

  EXPECT_EQ(power_.resets(), 0);
}

TEST_F(I8042Test, OutputPortWriteWithBitZeroClearRequestsReset) {
  command(0xD1);

  send_data(0x02);

  EXPECT_EQ(power_.resets(), 1);
}

TEST_F(I8042Test, OutputPortWriteWithBitZeroSetIsStoredWithoutReset) {
  command(0xD1);
  send_data(0x03);

  command(0xD0);

  EXPECT_EQ(power_.resets(), 0);
  EXPECT_EQ(data(), 0x03);
}

TEST_F(I8042Test, NewCommandAbandonsOneWaitingForItsDataByte) {
  command(0xD1);
  command(0xAE);

  send_data(0x00);

  EXPECT_EQ(power_.resets(), 0);
  EXPECT_EQ(data(), 0xFE) << "the byte went to the keyboard, which asks for a resend of 0x00";
}

TEST_F(I8042Test, SelfTestQueues0x55AndSetsOutputFull) {
  command(0xAA);

  const uint8_t before = status();
  const uint8_t reply = data();

  EXPECT_EQ(before & kStatusOutputFull, kStatusOutputFull);
  EXPECT_EQ(reply, 0x55);
  EXPECT_EQ(status() & kStatusOutputFull, 0);
}

TEST_F(I8042Test, DataReadWithNothingQueuedRepeatsTheLastByte) {
  command(0xAA);
  (void)data();

  EXPECT_EQ(data(), 0x55);
}

TEST_F(I8042Test, CommandByteReadsPowerOnValue) {
  command(0x20);

  EXPECT_EQ(data(), 0x45);
}

TEST_F(I8042Test, CommandByteWriteIsReadBack) {
  command(0x60);
  send_data(0x47);

  command(0x20);

  EXPECT_EQ(data(), 0x47);
}

TEST_F(I8042Test, StatusSystemFlagMirrorsCommandByteBitTwo) {
  command(0x60);
  send_data(0x00);
  const uint8_t cleared = status();
  command(0xAA);
  const uint8_t after_self_test = status();

  EXPECT_EQ(cleared & kStatusSystemFlag, 0);
  EXPECT_EQ(after_self_test & kStatusSystemFlag, kStatusSystemFlag);
}

TEST_F(I8042Test, ControllerRamBytesBeyondTheCommandByteRoundTrip) {
  command(0x65);
  send_data(0x9C);

  command(0x25);

  EXPECT_EQ(data(), 0x9C);
}

TEST_F(I8042Test, KeyboardAndAuxEnableCommandsUpdateCommandByte) {
  command(0xAD);
  command(0xA7);
  command(0x20);
  const uint8_t disabled = data();
  command(0xAE);
  command(0xA8);
  command(0x20);
  const uint8_t enabled = data();

  EXPECT_EQ(disabled & 0x30, 0x30);
  EXPECT_EQ(enabled & 0x30, 0x00);
  EXPECT_EQ(controller_.stats().unknown_commands, 0u);
}

TEST_F(I8042Test, UnknownCommandsAreIgnoredAndCounted) {
  command(0xC8);
  command(0x00);

  EXPECT_EQ(controller_.stats().unknown_commands, 2u);
  EXPECT_EQ(status() & kStatusOutputFull, 0);
  EXPECT_EQ(power_.resets(), 0);
}

TEST_F(I8042Test, DataWithoutACommandGoesToTheKeyboardWhichAcknowledges) {
  send_data(0xF4);

  EXPECT_EQ(status() & kStatusOutputFull, kStatusOutputFull);
  EXPECT_EQ(data(), 0xFA);
  EXPECT_EQ(controller_.stats().device_bytes_dropped, 0u);
}

TEST_F(I8042Test, StatusRemembersWhetherLastWriteWasACommand) {
  command(0xAE);
  const uint8_t after_command = status();
  send_data(0x00);
  const uint8_t after_data = status();

  EXPECT_EQ(after_command & kStatusLastWasCommand, kStatusLastWasCommand);
  EXPECT_EQ(after_data & kStatusLastWasCommand, 0);
}

TEST_F(I8042Test, RepliesQueueInOrderAndOverflowIsCounted) {
  for (int i = 0; i < 20; ++i) command(0xAA);

  int replies = 0;
  while ((status() & kStatusOutputFull) != 0) {
    EXPECT_EQ(data(), 0x55);
    ++replies;
  }

  EXPECT_EQ(replies, 17) << "the output register plus 16 queued replies";
  EXPECT_EQ(controller_.stats().output_overflows, 3u);
}

TEST_F(I8042Test, ResetRestoresPowerOnState) {
  command(0x60);
  send_data(0x00);
  command(0xAA);
  command(0xD1);

  controller_.reset();
  EXPECT_EQ(status() & (kStatusOutputFull | kStatusSystemFlag), kStatusSystemFlag) << "the 0x55 is gone";
  send_data(0x00);  // no longer an output-port write: it goes to the keyboard

  EXPECT_EQ(power_.resets(), 0);
  EXPECT_EQ(data(), 0xFE) << "the keyboard asks for a resend of the unknown 0x00";
}

TEST_F(I8042Test, WideAccessOnlyUsesTheByteOnTheControllerPort) {
  testing::write_port(controller_.command_port(), 0, 0xFE00, 2);  // 0xFE lands on port 0x65

  EXPECT_EQ(power_.resets(), 0);
  EXPECT_EQ(testing::read_port(controller_.command_port(), 0, 2) >> 8, 0xFFu);
}

TEST_F(I8042Test, GarbageOnBothPortsNeverBreaksTheController) {
  std::mt19937_64 random(0x8042);
  for (int round = 0; round < 500; ++round) {
    for (size_t width : {1u, 2u, 4u, 8u}) {
      testing::write_port(controller_.command_port(), 0, random(), width);
      testing::write_port(controller_.data_port(), 0, random(), width);
      (void)testing::read_port(controller_.command_port(), 0, width);
      (void)testing::read_port(controller_.data_port(), 0, width);
    }
  }

  while ((status() & kStatusOutputFull) != 0) (void)data();
  command(0xAA);
  EXPECT_EQ(data(), 0x55);
}

}  // namespace
}  // namespace kvpc
