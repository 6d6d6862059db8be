// The i8042 with its PS/2 keyboard and mouse: command set, scan codes with and without the
// controller's set 2 -> set 1 translation, IRQ 1/12 gating, mouse packets.
#include <gtest/gtest.h>

#include "devices/i8042.h"
#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

constexpr uint16_t kHidA = 4, kHidUp = 82, kHidLeftShift = 225;

class Ps2Test : public ::testing::Test {
 protected:
  uint8_t status() { return static_cast<uint8_t>(testing::read_port(controller_.command_port(), 0)); }
  uint8_t data() { return static_cast<uint8_t>(testing::read_port(controller_.data_port(), 0)); }
  void command(uint8_t value) { testing::write_port(controller_.command_port(), 0, value); }
  void send(uint8_t value) { testing::write_port(controller_.data_port(), 0, value); }
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> bytes;
    while (status() & 1) bytes.push_back(data());
    return bytes;
  }
  testing::RecordingPowerControl power_;
  testing::RecordingIrqLine irq1_, irq12_;
  I8042 controller_{power_, &irq1_, &irq12_};
};

TEST_F(Ps2Test, KeyboardResetsAndIdentifies) {
  send(0xFF);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAA}));
  command(0x60);
  send(0x05);  // no translation, keyboard IRQ on
  send(0xF2);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAB, 0x83}));
  send(0xF0);
  send(0x00);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xFA, 0x02})) << "scan code set 2";
  send(0xED);
  send(0x07);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xFA}));
  send(0xEE);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xEE}));
}

TEST_F(Ps2Test, KeysArriveAsSet1WhenTheControllerTranslates) {
  // Power-on command byte 0x45: translation on, keyboard IRQ on.
  EXPECT_TRUE(controller_.key(kHidA, true));
  EXPECT_TRUE(irq1_.level()) << "IRQ 1 while a keyboard byte waits";
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x1E}));
  EXPECT_FALSE(irq1_.level());
  controller_.key(kHidA, false);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x9E})) << "F0 1C becomes 9E";
  controller_.key(kHidUp, true);
  controller_.key(kHidUp, false);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xE0, 0x48, 0xE0, 0xC8}));
}

TEST_F(Ps2Test, KeysArriveAsSet2WithoutTranslation) {
  command(0x60);
  send(0x05);
  controller_.key(kHidLeftShift, true);
  controller_.key(kHidA, true);
  controller_.key(kHidA, false);
  controller_.key(kHidUp, false);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x12, 0x1C, 0xF0, 0x1C, 0xE0, 0xF0, 0x75}));
  EXPECT_FALSE(controller_.key(0x3FF, true)) << "keys without a PS/2 code are refused";
}

TEST_F(Ps2Test, KeyboardSet1SelectedOnTheKeyboardItself) {
  command(0x60);
  send(0x05);
  send(0xF0);
  send(0x01);
  drain();
  controller_.key(kHidA, false);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x9E}));
}

TEST_F(Ps2Test, DisabledKeyboardOrClearedIrqBitHoldsBytesBack) {
  command(0xAD);
  controller_.key(kHidA, true);
  EXPECT_EQ(status() & 1, 0) << "keyboard disabled: its bytes wait";
  command(0xAE);
  EXPECT_EQ(status() & 1, 1);
  command(0x60);
  send(0x44);  // translation on, keyboard IRQ off
  EXPECT_FALSE(irq1_.level());
  EXPECT_EQ(data(), 0x1E);
}

TEST_F(Ps2Test, MouseReportsThreeBytePacketsOnIrq12) {
  command(0x60);
  send(0x47);  // both IRQs, translation
  command(0xD4);
  send(0xF2);
  EXPECT_EQ(status() & 0x20, 0x20) << "aux data flag";
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0x00}));
  controller_.mouse_motion(5, -3, 1);
  EXPECT_EQ(status() & 1, 0) << "data reporting is off until F4";
  command(0xD4);
  send(0xF4);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA}));
  controller_.mouse_motion(5, -3, 1);
  EXPECT_TRUE(irq12_.level());
  EXPECT_FALSE(irq1_.level());
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x29, 0x05, 0xFD}));
  controller_.mouse_motion(300, 0, 0);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x08, 0xFF, 0x00, 0x08, 45, 0x00})) << "split, never overflowing";
  command(0xD4);
  send(0xE9);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0x20, 0x02, 100}));
  command(0xD4);
  send(0xFF);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAA, 0x00}));
}

TEST_F(Ps2Test, ControllerPortTestsAndEchoCommands) {
  command(0xAB);
  command(0xA9);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x00, 0x00}));
  command(0xD2);
  send(0x42);
  EXPECT_EQ(status() & 0x20, 0);
  EXPECT_EQ(data(), 0x42);
  command(0xD3);
  send(0x43);
  EXPECT_EQ(status() & 0x21, 0x21);
  EXPECT_EQ(data(), 0x43);
}

TEST_F(Ps2Test, FloodOfKeysNeverBreaksTheController) {
  for (int i = 0; i < 1000; ++i) controller_.key(static_cast<uint16_t>(i % 240), (i & 1) != 0);
  for (int i = 0; i < 1000; ++i) controller_.mouse_motion(i, -i, static_cast<uint8_t>(i));
  auto bytes = drain();
  EXPECT_FALSE(bytes.empty());
  EXPECT_LE(bytes.size(), 200u) << "device queues are bounded";
}

}  // namespace
}  // namespace kvpc
