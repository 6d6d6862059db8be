// Device state -> pixels: text glyphs and colours, cursor, blink, 13h, VBE, damage tracking,
// PNG round trip and per-consumer damage in DisplaySource.
#include "display/vga_renderer.h"

#include <gtest/gtest.h>

#include "display/display_source.h"
#include "display/png_writer.h"

namespace kvpc {
namespace {

// A font whose glyph g has row r = (g + r) | 0x81 (left and right column always set);
// glyph 0 is blank.
vga::VgaFont test_font() {
  vga::VgaFont font;
  for (int g = 1; g < 256; ++g) {
    for (int r = 0; r < 16; ++r) font.glyphs[g][r] = static_cast<uint8_t>((g + r) | 0x81);
  }
  return font;
}

// The mode-3 palette: colour c of the attribute palette through the EGA DAC entries.
uint32_t ega(int c) {
  static constexpr int kPalette[16] = {0, 1, 2, 3, 4, 5, 0x14, 7, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F};
  const int i = kPalette[c];
  auto level = [](int primary, int secondary) {
    const int v = primary * 0x2A + secondary * 0x15;
    return (v << 2) | (v >> 4);
  };
  return static_cast<uint32_t>(level(i >> 2 & 1, i >> 5 & 1) << 16 | level(i >> 1 & 1, i >> 4 & 1) << 8 |
                               level(i & 1, i >> 3 & 1));
}

class RendererTest : public ::testing::Test {
 protected:
  RendererTest() : framebuffer_(1 << 20, 0), vga_(framebuffer_, [] { return std::optional<vga::VgaFont>(test_font()); }) {
    out16(0x3D4, 0x2D0A);  // cursor off (CR0A bit 5) unless a test turns it on
  }
  void poke(uint64_t address, uint8_t value) {
    vga_.legacy_window().write(address - 0xA0000, std::span<const uint8_t>(&value, 1));
  }
  void out16(uint16_t port, uint16_t value) {
    uint8_t bytes[2] = {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8)};
    if (port >= 0x1CE && port <= 0x1D0) vga_.dispi_ports().write(port - 0x1CE, bytes);
    else vga_.vga_ports().write(port - vga::kPortBase, bytes);
  }
  void out8(uint16_t port, uint8_t value) { vga_.vga_ports().write(port - vga::kPortBase, std::span<const uint8_t>(&value, 1)); }
  Damage render(uint64_t now_ms = 0, std::span<const uint64_t> dirty = {}) {
    vga_.snapshot(snapshot_);
    return renderer_.render(snapshot_, framebuffer_, dirty, now_ms);
  }
  // Checks the 9x16 cell (col, row) shows glyph `ch` in fg on bg.
  void expect_cell(int col, int row, uint8_t ch, uint32_t fg, uint32_t bg) {
    const Frame& f = renderer_.frame();
    for (int y = 0; y < 16; ++y) {
      const int bits = ((ch + y) | 0x81) << 1;  // 9th column: background (not C0-DF)
      for (int x = 0; x < 9; ++x) {
        const uint32_t want = (bits >> (8 - x) & 1) ? fg : bg;
        ASSERT_EQ(f.pixel(static_cast<uint32_t>(col * 9 + x), static_cast<uint32_t>(row * 16 + y)), want)
            << "cell " << col << "," << row << " pixel " << x << "," << y;
      }
    }
  }
  std::vector<uint8_t> framebuffer_;
  VgaDevice vga_;
  VgaSnapshot snapshot_;
  VgaRenderer renderer_;
};

TEST_F(RendererTest, TextModeDrawsGlyphsFromPlane2InAttributeColours) {
  poke(0xB8000 + 2 * 5, 'K');
  poke(0xB8000 + 2 * 5 + 1, 0x1E);  // yellow on blue
  render();
  EXPECT_EQ(renderer_.frame().width, 720u);
  EXPECT_EQ(renderer_.frame().height, 400u);
  EXPECT_EQ(renderer_.mode_name(), "text 80x25");
  expect_cell(5, 0, 'K', ega(14), ega(1));
  expect_cell(6, 0, ' ', ega(7), ega(0));
}

TEST_F(RendererTest, NinthColumnRepeatsLineGraphicsOnly) {
  poke(0xB8000, 0xC4);
  poke(0xB8001, 0x07);
  render();
  const Frame& f = renderer_.frame();
  // Row 0 of glyph 0xC4 is 0xC5: bit 0 set, so column 9 repeats it (foreground).
  EXPECT_EQ(f.pixel(8, 0), ega(7));
  EXPECT_EQ(f.pixel(7, 0), ega(7));
}

TEST_F(RendererTest, BlinkBitBlinksOrBrightensTheBackground) {
  poke(0xB8000, 'X');
  poke(0xB8001, 0xC7);  // blink + red background (bright bg when blinking is off)
  render(0);
  expect_cell(0, 0, 'X', ega(7), ega(4));
  render(600);  // second half of the blink period: foreground hidden
  const Frame& f = renderer_.frame();
  for (int x = 0; x < 9; ++x) EXPECT_EQ(f.pixel(static_cast<uint32_t>(x), 3), ega(4));
  // Attribute mode control bit 3 off: bit 7 selects a bright background instead.
  vga_.vga_ports().read(0x3DA - vga::kPortBase, std::span<uint8_t>(framebuffer_.data(), 1));
  out8(0x3C0, 0x30);
  out8(0x3C0, 0x04);
  render(600);
  expect_cell(0, 0, 'X', ega(7), ega(12));
}

TEST_F(RendererTest, CursorFollowsCrtcPositionAndShape) {
  out16(0x3D4, 0x000E);
  out16(0x3D4, 0x510F);  // cursor at cell 81: row 1, column 1
  out16(0x3D4, 0x0E0A);
  out16(0x3D4, 0x0F0B);  // scan lines 14-15
  poke(0xB8000 + 2 * 81, 0x00);  // the blank glyph under the cursor
  render(0);
  const Frame& f = renderer_.frame();
  EXPECT_EQ(f.pixel(9 + 4, 16 + 14), ega(7));
  EXPECT_EQ(f.pixel(9 + 4, 16 + 15), ega(7));
  EXPECT_EQ(f.pixel(9 + 4, 16 + 13), ega(0)) << "above the cursor: the blank glyph's background";
  render(300);  // cursor blink off phase
  EXPECT_EQ(renderer_.frame().pixel(9 + 4, 16 + 14), ega(0));
  out16(0x3D4, 0x2E0A);  // bit 5: cursor disabled
  render(0);
  EXPECT_EQ(renderer_.frame().pixel(9 + 4, 16 + 14), ega(0));
}

TEST_F(RendererTest, OnlyChangedCellsAreRedrawn) {
  render();
  EXPECT_TRUE(render().empty()) << "nothing changed";
  poke(0xB8000 + 2 * (80 * 10 + 3), 'Z');
  Damage damage = render();
  EXPECT_EQ(damage.first, 160u);
  EXPECT_EQ(damage.last, 176u);
  // A DAC change affects every cell.
  out8(0x3C8, 0);
  out8(0x3C9, 0x3F);
  out8(0x3C9, 0);
  out8(0x3C9, 0);
  damage = render();
  EXPECT_EQ(damage.first, 0u);
  EXPECT_EQ(damage.last, 400u);
  EXPECT_EQ(renderer_.frame().pixel(9 * 55 + 8, 390), 0xFF0000u) << "black (DAC 0) is now red (9th column: background)";
}

TEST_F(RendererTest, ClearedPaletteAddressSourceBlanksTheScreen) {
  vga_.vga_ports().read(0x3DA - vga::kPortBase, std::span<uint8_t>(framebuffer_.data(), 1));
  out8(0x3C0, 0x00);
  render();
  EXPECT_EQ(renderer_.mode_name(), "blank");
}

TEST_F(RendererTest, Mode13hUsesTheDacAndTracksDirtyRows) {
  out16(0x3C4, 0x0E04);
  out16(0x3C4, 0x0F02);  // all planes
  out16(0x3C4, 0x0101);  // 8-dot clock
  out16(0x3CE, 0x4005);
  out16(0x3CE, 0x0506);
  out16(0x3D4, 0x4109);  // double scan: 400 lines -> 200
  out16(0x3D4, 0x8F12);  // vertical display end 0x18F
  vga_.vga_ports().read(0x3DA - vga::kPortBase, std::span<uint8_t>(framebuffer_.data(), 1));
  out8(0x3C0, 0x30);
  out8(0x3C0, 0x41);  // graphics, 8-bit colour
  out8(0x3C8, 200);
  out8(0x3C9, 0x3F);
  out8(0x3C9, 0x20);
  out8(0x3C9, 0x00);
  render();
  EXPECT_EQ(renderer_.mode_name(), "vga 320x200x8");
  poke(0xA0000 + 320 * 100 + 7, 200);
  Damage damage = render();
  EXPECT_EQ(renderer_.frame().pixel(7, 100), 0xFF8200u);
  EXPECT_LE(damage.last - damage.first, 8u) << "only rows in the dirty chunk";
  EXPECT_LE(damage.first, 100u);
  EXPECT_GT(damage.last, 100u);
}

TEST_F(RendererTest, VbeFramebufferAt32And16BitsWithDirtyPages) {
  for (auto [index, value] : {std::pair{vga::dispi::kXres, 64}, {vga::dispi::kYres, 48}, {vga::dispi::kBpp, 32},
                              {vga::dispi::kEnable, 0x41}}) {
    out16(0x1CE, static_cast<uint16_t>(index));
    out16(0x1CF, static_cast<uint16_t>(value));
  }
  const uint32_t stride = 64 * 4;
  framebuffer_[10 * stride + 5 * 4 + 0] = 0x11;  // B
  framebuffer_[10 * stride + 5 * 4 + 1] = 0x22;  // G
  framebuffer_[10 * stride + 5 * 4 + 2] = 0x33;  // R
  render();
  EXPECT_EQ(renderer_.mode_name(), "vbe 64x48x32");
  EXPECT_EQ(renderer_.frame().pixel(5, 10), 0x332211u);
  // Page 2 (bytes 8192-12287) = rows 32-47 of a 256-byte stride.
  std::vector<uint64_t> dirty(4, 0);
  dirty[0] = 1u << 2;
  framebuffer_[40 * stride] = 0xFF;
  Damage damage = render(0, dirty);
  EXPECT_EQ(damage.first, 32u);
  EXPECT_EQ(damage.last, 48u);
  EXPECT_EQ(renderer_.frame().pixel(0, 40), 0x0000FFu);
  // 16 bpp 5:6:5.
  out16(0x1CE, vga::dispi::kEnable);
  out16(0x1CF, 0);
  out16(0x1CE, vga::dispi::kBpp);
  out16(0x1CF, 16);
  out16(0x1CE, vga::dispi::kEnable);
  out16(0x1CF, 0x41);
  framebuffer_[0] = 0x00;
  framebuffer_[1] = 0xF8;  // pure red
  render();
  EXPECT_EQ(renderer_.frame().pixel(0, 0), 0xFF0000u);
}

TEST(PngWriter, RoundTripsAFrame) {
  Frame frame;
  frame.resize(3, 2);
  for (size_t i = 0; i < frame.rgba.size(); ++i) frame.rgba[i] = static_cast<uint8_t>(i * 10);
  auto png = encode_png(frame);
  ASSERT_TRUE(png.ok()) << png.error().message;
  auto back = decode_png(*png);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->width, 3u);
  EXPECT_EQ(back->rgba, frame.rgba);
  EXPECT_FALSE(encode_png(Frame{}).ok());
  auto truncated = *png;
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(decode_png(truncated).ok());
  EXPECT_FALSE(decode_png({1, 2, 3}).ok());
}

TEST(DisplaySource, EachConsumerSeesEveryRowChangedSinceItsSerial) {
  std::vector<uint8_t> framebuffer(1 << 20, 0);
  VgaDevice vga(framebuffer, [] { return std::optional<vga::VgaFont>(test_font()); });
  DisplaySource source(vga, {}, [] { return uint64_t{0}; });
  Frame window, shot;
  auto first = source.refresh(0, window);
  EXPECT_TRUE(first.damage.resized);
  uint8_t ch = 'M';
  vga.legacy_window().write(0x18000 + 2 * 80 * 3, std::span<const uint8_t>(&ch, 1));
  auto screenshot = source.refresh(0, shot);  // another consumer renders first...
  EXPECT_EQ(shot.pixel(0, 0), window.pixel(0, 0));
  auto later = source.refresh(first.serial, window);  // ...the window still gets row 3's cells
  EXPECT_EQ(later.damage.first, 48u);
  EXPECT_EQ(later.damage.last, 64u);
  EXPECT_EQ(window.rgba, shot.rgba);
  (void)screenshot;
}

}  // namespace
}  // namespace kvpc
