// Unit tests of the 8259A pair model (no CPU involved).
#include <gtest/gtest.h>

#include "vmm/emu/pic.h"

namespace kvpc::emu {
namespace {

void init(PicPair& pic, bool auto_eoi = false) {
  const uint8_t icw4 = auto_eoi ? 0x03 : 0x01;
  for (auto [cmd, data, base, icw3] : {std::tuple<uint16_t, uint16_t, uint8_t, uint8_t>{0x20, 0x21, 0x20, 0x04},
                                       {0xA0, 0xA1, 0x28, 0x02}}) {
    pic.port_write(cmd, 0x11);
    pic.port_write(data, base);
    pic.port_write(data, icw3);
    pic.port_write(data, icw4);
  }
}

uint8_t read(PicPair& pic, uint16_t port) {
  uint8_t v = 0;
  EXPECT_TRUE(pic.port_read(port, v));
  return v;
}

TEST(EmuPic, EdgeRequestAckEoi) {
  PicPair pic;
  init(pic);
  EXPECT_FALSE(pic.intr());
  pic.set_irq(1, true);
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(read(pic, 0x20), 0x02);  // IRR by default
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_FALSE(pic.intr());
  pic.port_write(0x20, 0x0B);  // OCW3: read ISR
  EXPECT_EQ(read(pic, 0x20), 0x02);
  // Edge: holding the line high does not request again; a new edge does.
  pic.port_write(0x20, 0x20);  // non-specific EOI
  EXPECT_EQ(read(pic, 0x20), 0x00);
  EXPECT_FALSE(pic.intr());
  pic.set_irq(1, false);
  pic.set_irq(1, true);
  EXPECT_TRUE(pic.intr());
}

TEST(EmuPic, MaskAndPriorityNesting) {
  PicPair pic;
  init(pic);
  pic.port_write(0x21, 0x08);  // mask IRQ3
  pic.set_irq(3, true);
  EXPECT_FALSE(pic.intr());
  EXPECT_EQ(read(pic, 0x21), 0x08);
  pic.set_irq(5, true);
  EXPECT_EQ(pic.acknowledge(), 0x25);
  pic.set_irq(6, true);  // lower priority than the in-service 5: waits
  EXPECT_FALSE(pic.intr());
  pic.set_irq(0, true);  // higher priority: nests
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(pic.acknowledge(), 0x20);
  pic.port_write(0x20, 0x60);  // specific EOI for IRQ0
  EXPECT_FALSE(pic.intr());
  pic.port_write(0x20, 0x65);  // specific EOI for IRQ5
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(pic.acknowledge(), 0x26);
  pic.port_write(0x21, 0x00);  // unmask IRQ3, but 6 is in service and 3 outranks it
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(pic.acknowledge(), 0x23);
}

TEST(EmuPic, CascadeThroughIrq2) {
  PicPair pic;
  init(pic);
  pic.set_irq(12, true);
  EXPECT_TRUE(pic.intr());
  EXPECT_EQ(pic.acknowledge(), 0x2C);
  pic.port_write(0xA0, 0x0B);
  EXPECT_EQ(read(pic, 0xA0), 0x10);  // slave ISR bit 4
  pic.port_write(0x20, 0x0B);
  EXPECT_EQ(read(pic, 0x20), 0x04);  // master ISR bit 2
  pic.port_write(0xA0, 0x20);
  pic.port_write(0x20, 0x20);
  EXPECT_EQ(read(pic, 0x20), 0x00);
  pic.port_write(0xA1, 0x10);  // mask IRQ12 on the slave
  pic.set_irq(12, false);
  pic.set_irq(12, true);
  EXPECT_FALSE(pic.intr());
}

TEST(EmuPic, LevelModeViaElcrAndAutoEoi) {
  PicPair pic;
  init(pic, true);
  pic.port_write(0x4D1, 0xFF);
  EXPECT_EQ(read(pic, 0x4D1), 0xDE);  // IRQ8 and IRQ13 cannot be level
  pic.port_write(0x4D0, 0x07);
  EXPECT_EQ(read(pic, 0x4D0), 0x00);
  pic.set_irq(11, true);
  EXPECT_EQ(pic.acknowledge(), 0x2B);
  // Auto-EOI: nothing in service, the level line still asserted requests again.
  EXPECT_TRUE(pic.intr());
  pic.set_irq(11, false);
  EXPECT_FALSE(pic.intr());
}

TEST(EmuPic, SpuriousWhenRequestVanishesAndPoll) {
  PicPair pic;
  init(pic);
  pic.port_write(0x4D0, 0x20);  // IRQ5 level
  pic.set_irq(5, true);
  pic.set_irq(5, false);
  EXPECT_EQ(pic.acknowledge(), 0x27);  // spurious IRQ7
  pic.set_irq(4, true);
  pic.port_write(0x20, 0x0C);  // poll
  EXPECT_EQ(read(pic, 0x20), 0x84);
  EXPECT_FALSE(pic.intr());
  uint8_t v;
  EXPECT_FALSE(pic.port_read(0x40, v));
}

TEST(EmuPic, RotateOnNonSpecificEoi) {
  PicPair pic;
  init(pic);
  pic.set_irq(1, true);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  pic.port_write(0x20, 0xA0);  // rotate on non-specific EOI: IRQ1 becomes lowest
  pic.set_irq(1, false);
  pic.set_irq(1, true);
  pic.set_irq(3, true);
  EXPECT_EQ(pic.acknowledge(), 0x23);  // 3 now outranks 1
}

}  // namespace
}  // namespace kvpc::emu
