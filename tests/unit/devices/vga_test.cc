// The VGA register file, planar memory, Bochs DISPI and the PCI function, through the same
// IoDevice entry points the buses use.
#include "devices/vga/vga_device.h"

#include <gtest/gtest.h>

#include <vector>

namespace kvpc {
namespace {

using vga::kPortBase;

class VgaDeviceTest : public ::testing::Test {
 protected:
  VgaDeviceTest() : framebuffer_(1 << 20, 0), vga_(framebuffer_, VgaDevice::FontSource()) {}
  void out8(uint16_t port, uint8_t value) { vga_.vga_ports().write(port - kPortBase, std::span<const uint8_t>(&value, 1)); }
  void out16(uint16_t port, uint16_t value) {
    uint8_t bytes[2] = {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8)};
    if (port >= 0x1CE && port <= 0x1D0) vga_.dispi_ports().write(port - 0x1CE, bytes);
    else vga_.vga_ports().write(port - kPortBase, bytes);
  }
  uint8_t in8(uint16_t port) {
    uint8_t value = 0;
    vga_.vga_ports().read(port - kPortBase, std::span<uint8_t>(&value, 1));
    return value;
  }
  uint16_t in16_dispi(uint16_t port) {
    uint8_t bytes[2] = {};
    vga_.dispi_ports().read(port - 0x1CE, bytes);
    return static_cast<uint16_t>(bytes[0] | bytes[1] << 8);
  }
  void poke(uint64_t address, uint8_t value) {
    vga_.legacy_window().write(address - 0xA0000, std::span<const uint8_t>(&value, 1));
  }
  uint8_t peek(uint64_t address) {
    uint8_t value = 0;
    vga_.legacy_window().read(address - 0xA0000, std::span<uint8_t>(&value, 1));
    return value;
  }
  std::vector<uint8_t> framebuffer_;
  VgaDevice vga_;
};

TEST_F(VgaDeviceTest, PowersOnInMode3WithAClearedTextScreen) {
  EXPECT_EQ(in8(0x3CC), 0x67);  // misc output: colour I/O at 0x3Dx
  out8(0x3D4, 0x01);
  EXPECT_EQ(in8(0x3D5), 0x4F);  // 80 columns
  EXPECT_EQ(peek(0xB8000), ' ');
  EXPECT_EQ(peek(0xB8001), 0x07);
  EXPECT_EQ(vga_.plane_byte(0, 0), ' ');
  EXPECT_EQ(vga_.plane_byte(1, 0), 0x07);
}

// The power-on state is made at the first touch, and the font source is asked exactly then,
// once: a VM whose guest never uses the VGA never decodes the font (start-up time, RSS).
TEST(VgaDevicePowerOn, TheFontIsDecodedAtTheFirstTouchAndOnlyOnce) {
  std::vector<uint8_t> framebuffer(1 << 20, 0);
  int decoded = 0;
  VgaDevice vga(framebuffer, [&decoded] {
    ++decoded;
    vga::VgaFont font;
    font.glyphs['A'][3] = 0x5A;
    return std::optional<vga::VgaFont>(font);
  });
  EXPECT_EQ(decoded, 0) << "constructing the device must not decode the font";
  uint8_t misc = 0;
  vga.vga_ports().read(0x3CC - vga::kPortBase, std::span<uint8_t>(&misc, 1));
  EXPECT_EQ(misc, 0x67) << "the first register read sees the mode 3 power-on state";
  EXPECT_EQ(decoded, 1);
  EXPECT_EQ(vga.plane_byte(2, 'A' * 32 + 3), 0x5A) << "the font is in plane 2, glyph i at 32 * i";
  EXPECT_EQ(vga.plane_byte(0, 0), ' ');
  VgaSnapshot snapshot;
  vga.snapshot(snapshot);
  EXPECT_EQ(decoded, 1) << "decoded once";
  EXPECT_FALSE(snapshot.font_dirty) << "power-on loading is not a guest store";
}

// A snapshot (screenshot, window) taken before the guest touched anything shows the power-on
// screen too.
TEST(VgaDevicePowerOn, ASnapshotBeforeAnyGuestAccessShowsThePowerOnState) {
  std::vector<uint8_t> framebuffer(1 << 20, 0);
  VgaDevice vga(framebuffer, VgaDevice::FontSource());
  VgaSnapshot snapshot;
  vga.snapshot(snapshot);
  ASSERT_EQ(snapshot.planes.size(), 4u * vga::kPlaneSize);
  EXPECT_EQ(snapshot.planes[0], ' ');   // plane 0, offset 0
  EXPECT_EQ(snapshot.planes[1], 0x07);  // plane 1, offset 0
  EXPECT_EQ(snapshot.regs.misc_output, 0x67);
}

TEST_F(VgaDeviceTest, TextWritesGoToPlanes0And1ByOddEvenAddress) {
  poke(0xB8000 + 2 * 81, 'Q');
  poke(0xB8000 + 2 * 81 + 1, 0x1E);
  EXPECT_EQ(vga_.plane_byte(0, 2 * 81), 'Q');
  EXPECT_EQ(vga_.plane_byte(1, 2 * 81), 0x1E);
  EXPECT_EQ(peek(0xB8000 + 2 * 81), 'Q');
  EXPECT_EQ(peek(0xB8000 + 2 * 81 + 1), 0x1E);
  // Mode 3 maps only 0xB8000-0xBFFFF: the rest of the window is not decoded.
  poke(0xA0000, 0x55);
  EXPECT_EQ(peek(0xA0000), 0xFF);
}

TEST_F(VgaDeviceTest, WordOutToAnIndexPortWritesIndexThenData) {
  out16(0x3D4, 0x200E);  // CRTC 0x0E = 0x20
  out8(0x3D4, 0x0E);
  EXPECT_EQ(in8(0x3D5), 0x20);
  out16(0x3C4, 0x0F02);  // sequencer map mask = 0xF
  out8(0x3C4, 0x02);
  EXPECT_EQ(in8(0x3C5), 0x0F);
}

TEST_F(VgaDeviceTest, CrtcProtectBitGuardsRegisters0To7) {
  out16(0x3D4, 0x8011);  // CR11 bit 7: protect
  out16(0x3D4, 0x1201);
  out8(0x3D4, 0x01);
  EXPECT_EQ(in8(0x3D5), 0x4F) << "CR01 is write-protected";
  out16(0x3D4, 0x0011);
  out16(0x3D4, 0x1201);
  out8(0x3D4, 0x01);
  EXPECT_EQ(in8(0x3D5), 0x12);
}

TEST_F(VgaDeviceTest, MonoAddressingMovesTheCrtc) {
  out8(0x3C2, 0x66);  // misc bit 0 = 0: CRTC at 0x3B4
  out8(0x3B4, 0x01);
  EXPECT_EQ(in8(0x3B5), 0x4F);
  EXPECT_EQ(in8(0x3D5), 0xFF) << "the colour CRTC is not decoded in mono mode";
}

TEST_F(VgaDeviceTest, AttributeFlipFlopAndStatusRegisterReset) {
  in8(0x3DA);          // reset the flip-flop: next 0x3C0 write is an index
  out8(0x3C0, 0x01);   // index 1 (palette address source 0: screen blanked)
  out8(0x3C0, 0x2A);   // data
  out8(0x3C0, 0x21);   // index again, PAS set
  EXPECT_EQ(in8(0x3C1), 0x2A);
  EXPECT_EQ(in8(0x3C0), 0x21);
  out8(0x3C0, 0x3F);   // this is data for index 1
  in8(0x3DA);
  out8(0x3C0, 0x21);
  EXPECT_EQ(in8(0x3C1), 0x3F);
}

TEST_F(VgaDeviceTest, DacWritesAndReadsCycleThroughRgb) {
  out8(0x3C8, 10);
  out8(0x3C9, 1);
  out8(0x3C9, 2);
  out8(0x3C9, 3);
  out8(0x3C9, 4);  // entry 11 red
  out8(0x3C7, 10);
  EXPECT_EQ(in8(0x3C9), 1);
  EXPECT_EQ(in8(0x3C9), 2);
  EXPECT_EQ(in8(0x3C9), 3);
  EXPECT_EQ(in8(0x3C9), 4);
  EXPECT_EQ(in8(0x3C7), 0x03) << "DAC state: last access was a read";
  EXPECT_EQ(in8(0x3C8), 11);
}

TEST_F(VgaDeviceTest, Mode13hChain4StoresBytesLinearly) {
  out16(0x3C4, 0x0E04);  // memory mode: chain-4, sequential
  out16(0x3CE, 0x0506);  // graphics, map A0000 64K
  out16(0x3CE, 0x4005);  // 256-colour shift
  out16(0x3C4, 0x0F02);
  poke(0xA0000 + 321, 0x2C);
  EXPECT_EQ(vga_.plane_byte(321 & 3, 321 >> 2), 0x2C);
  EXPECT_EQ(peek(0xA0000 + 321), 0x2C);
}

TEST_F(VgaDeviceTest, PlanarWriteModesUseSetResetLatchesAndBitMask) {
  out16(0x3C4, 0x0604);  // planar, no odd/even
  out16(0x3CE, 0x0506);  // graphics, A0000 64K
  out16(0x3CE, 0x0005);  // write mode 0, read mode 0
  out16(0x3C4, 0x0F02);  // all planes
  // Set/reset: planes 0 and 2 get 0xFF, planes 1 and 3 the CPU byte.
  out16(0x3CE, 0x0500);
  out16(0x3CE, 0x0F01);
  poke(0xA0010, 0x00);
  EXPECT_EQ(vga_.plane_byte(0, 0x10), 0xFF);
  EXPECT_EQ(vga_.plane_byte(1, 0x10), 0x00);
  EXPECT_EQ(vga_.plane_byte(2, 0x10), 0xFF);
  // Bit mask 0x0F keeps the upper nibble from the latches (loaded by a read).
  out16(0x3CE, 0x0001);  // set/reset off
  out16(0x3CE, 0x0F08);
  (void)peek(0xA0010);
  poke(0xA0010, 0x00);
  EXPECT_EQ(vga_.plane_byte(0, 0x10), 0xF0);
  EXPECT_EQ(vga_.plane_byte(1, 0x10), 0x00);
  // Write mode 1 copies the latches: a read of 0x10 then a write to 0x20.
  out16(0x3CE, 0xFF08);
  out16(0x3CE, 0x0105);
  (void)peek(0xA0010);
  poke(0xA0020, 0x99);
  EXPECT_EQ(vga_.plane_byte(0, 0x20), 0xF0);
  EXPECT_EQ(vga_.plane_byte(2, 0x20), 0xF0);
  EXPECT_EQ(vga_.plane_byte(1, 0x20), 0x00);
  // Read mode 1: colour compare against colour 0b0101 on all planes.
  out16(0x3CE, 0x0805);
  out16(0x3CE, 0x0502);
  out16(0x3CE, 0x0F07);
  // Planes at 0x10: F0 00 F0 00, so the upper four pixels have colour 0101.
  EXPECT_EQ(peek(0xA0010), 0xF0);
  // Map mask: only plane 3 written.
  out16(0x3CE, 0x0005);
  out16(0x3C4, 0x0802);
  poke(0xA0030, 0x77);
  EXPECT_EQ(vga_.plane_byte(3, 0x30), 0x77);
  EXPECT_EQ(vga_.plane_byte(0, 0x30), ' ') << "plane 0 keeps the power-on space";
}

TEST_F(VgaDeviceTest, DispiIdentifiesAndSetsAMode) {
  out16(0x1CE, vga::dispi::kId);
  EXPECT_EQ(in16_dispi(0x1CF), 0xB0C5);
  out16(0x1CF, 0xB0C0);
  EXPECT_EQ(in16_dispi(0x1CF), 0xB0C0);
  out16(0x1CF, 0x1234);  // not an ID: ignored
  EXPECT_EQ(in16_dispi(0x1CF), 0xB0C0);
  out16(0x1CE, vga::dispi::kVideoMemory64k);
  EXPECT_EQ(in16_dispi(0x1CF), 16) << "1 MiB of test framebuffer";
  framebuffer_[100] = 0xAB;
  out16(0x1CE, vga::dispi::kXres);
  out16(0x1CF, 320);
  out16(0x1CE, vga::dispi::kYres);
  out16(0x1CF, 200);
  out16(0x1CE, vga::dispi::kBpp);
  out16(0x1CF, 16);
  out16(0x1CE, vga::dispi::kEnable);
  out16(0x1CF, vga::dispi::kEnabled | vga::dispi::kLfbEnabled);
  EXPECT_EQ(framebuffer_[100], 0) << "enabling without NOCLEARMEM clears the framebuffer";
  VgaSnapshot snapshot;
  vga_.snapshot(snapshot);
  EXPECT_TRUE(snapshot.dispi_enabled);
  EXPECT_EQ(snapshot.xres, 320u);
  EXPECT_EQ(snapshot.stride, 640u);
  // Banked access: bank 1 of the framebuffer through 0xA0000.
  out16(0x1CE, vga::dispi::kBank);
  out16(0x1CF, 1);
  poke(0xA0004, 0x5A);
  EXPECT_EQ(framebuffer_[0x10004], 0x5A);
}

TEST_F(VgaDeviceTest, DispiGetCapsAndHostileGeometryStayInsideMemory) {
  out16(0x1CE, vga::dispi::kEnable);
  out16(0x1CF, vga::dispi::kGetCaps);
  out16(0x1CE, vga::dispi::kXres);
  EXPECT_EQ(in16_dispi(0x1CF), vga::dispi::kMaxXres);
  out16(0x1CE, vga::dispi::kEnable);
  out16(0x1CF, 0);
  // 2560x1600x32 does not fit 1 MiB: the visible frame is clamped to memory.
  for (auto [index, value] : {std::pair{vga::dispi::kXres, 0xFFFF}, {vga::dispi::kYres, 0xFFFF}, {vga::dispi::kBpp, 32}}) {
    out16(0x1CE, static_cast<uint16_t>(index));
    out16(0x1CF, static_cast<uint16_t>(value));
  }
  out16(0x1CE, vga::dispi::kEnable);
  out16(0x1CF, vga::dispi::kEnabled | vga::dispi::kNoClearMem);
  out16(0x1CE, vga::dispi::kYOffset);
  out16(0x1CF, 0xFFFF);
  VgaSnapshot s;
  vga_.snapshot(s);
  EXPECT_LE(s.frame_offset + uint64_t{s.stride} * (s.yres - 1) + uint64_t{s.xres} * 4, framebuffer_.size());
}

TEST_F(VgaDeviceTest, PciFunctionIsAStdVgaWithAPrefetchableFramebufferBar) {
  uint8_t id[4];
  vga_.config().read(0, id);
  EXPECT_EQ(id[0] | id[1] << 8, 0x1234);
  EXPECT_EQ(id[2] | id[3] << 8, 0x1111);
  uint8_t cls[3];
  vga_.config().read(pci::kClassCode, cls);
  EXPECT_EQ(cls[2], 0x03);
  EXPECT_EQ(cls[1], 0x00);
  uint8_t all_ones[4] = {0xFF, 0xFF, 0xFF, 0xFF};
  vga_.config().write(pci::kBar0, all_ones);
  uint8_t bar[4];
  vga_.config().read(pci::kBar0, bar);
  const uint32_t value = static_cast<uint32_t>(bar[0] | bar[1] << 8 | bar[2] << 16 | bar[3] << 24);
  EXPECT_EQ(value, ~(VgaDevice::kFramebufferBytes - 1) | 0x8) << "16 MiB, 32-bit, prefetchable";
}

TEST_F(VgaDeviceTest, MmioBarMirrorsVgaPortsAndDispiRegisters) {
  IoDevice* bar = vga_.bar_device(2);
  ASSERT_NE(bar, nullptr);
  uint8_t index = 0x01;
  bar->write(0x400 + (0x3D4 - 0x3C0), std::span<const uint8_t>(&index, 1));
  uint8_t value = 0;
  bar->read(0x400 + (0x3D5 - 0x3C0), std::span<uint8_t>(&value, 1));
  EXPECT_EQ(value, 0x4F);
  uint8_t xres[2] = {0x00, 0x04};  // 1024
  bar->write(0x500 + 2 * vga::dispi::kXres, xres);
  uint8_t back[2] = {};
  bar->read(0x500 + 2 * vga::dispi::kXres, back);
  EXPECT_EQ(back[0] | back[1] << 8, 1024);
  uint8_t junk[8];
  bar->read(0x800, junk);
  EXPECT_EQ(junk[0], 0xFF);
}

}  // namespace
}  // namespace kvpc
