#include "devices/vga/psf_font.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <vector>

namespace kvpc::vga {
namespace {

// A PSF1 font: 256 glyphs of `height` rows, glyph i filled with byte i, optional Unicode
// table mapping glyph i to code point table[i].
std::vector<uint8_t> psf1(int height, const std::vector<uint16_t>& unicode = {}) {
  std::vector<uint8_t> b = {0x36, 0x04, static_cast<uint8_t>(unicode.empty() ? 0 : 2), static_cast<uint8_t>(height)};
  for (int g = 0; g < 256; ++g) b.insert(b.end(), static_cast<size_t>(height), static_cast<uint8_t>(g));
  for (size_t g = 0; g < unicode.size(); ++g) {
    b.push_back(static_cast<uint8_t>(unicode[g]));
    b.push_back(static_cast<uint8_t>(unicode[g] >> 8));
    b.push_back(0xFF);
    b.push_back(0xFF);
  }
  return b;
}

TEST(PsfFont, Psf1WithoutTableIsTakenInFileOrder) {
  auto font = parse_psf(psf1(14));
  ASSERT_TRUE(font.ok()) << font.error().message;
  EXPECT_EQ(font->height, 14);
  EXPECT_EQ(font->glyphs['A'][0], 'A');
  EXPECT_EQ(font->glyphs['A'][13], 'A');
  EXPECT_EQ(font->glyphs['A'][14], 0);
}

TEST(PsfFont, UnicodeTableReordersIntoCodePage437) {
  std::vector<uint16_t> table(256, 0xFFFD);
  table[7] = 0x2500;  // glyph 7 is the box-drawing line, CP437 0xC4
  table[9] = 'A';
  table[10] = '?';
  auto font = parse_psf(psf1(16, table));
  ASSERT_TRUE(font.ok()) << font.error().message;
  EXPECT_EQ(font->glyphs[0xC4][0], 7);
  EXPECT_EQ(font->glyphs['A'][0], 9);
  EXPECT_EQ(font->glyphs['B'][0], 10) << "missing code points get the '?' glyph";
  EXPECT_EQ(font->glyphs[' '][0], 0) << "a missing space stays blank";
}

TEST(PsfFont, MalformedFontsAreErrors) {
  EXPECT_FALSE(parse_psf(std::vector<uint8_t>{}).ok());
  EXPECT_FALSE(parse_psf(std::vector<uint8_t>{0x12, 0x34, 0, 16}).ok());
  auto truncated = psf1(16);
  truncated.resize(100);
  EXPECT_FALSE(parse_psf(truncated).ok());
  EXPECT_FALSE(parse_psf(psf1(0)).ok());
  EXPECT_FALSE(parse_psf(psf1(33)).ok());
  auto bad_table = psf1(16, std::vector<uint16_t>(256, 'x'));
  bad_table.resize(bad_table.size() - 10);
  EXPECT_FALSE(parse_psf(bad_table).ok());
  // PSF2 claiming 2^32-1 glyphs, and one 16 pixels wide.
  std::vector<uint8_t> psf2(64, 0);
  const uint32_t header[8] = {0x864AB572, 0, 32, 0, 0xFFFFFFFF, 16, 16, 8};
  std::memcpy(psf2.data(), header, sizeof(header));
  EXPECT_FALSE(parse_psf(psf2).ok());
  const uint32_t wide[8] = {0x864AB572, 0, 32, 0, 1, 32, 16, 16};
  std::memcpy(psf2.data(), wide, sizeof(wide));
  EXPECT_FALSE(parse_psf(psf2).ok());
  EXPECT_FALSE(gunzip(std::vector<uint8_t>{0x1F, 0x8B, 8, 0, 1, 2, 3}, 1024).ok());
}

TEST(PsfFont, LoadsTheDebianConsoleFont) {
  if (!std::filesystem::exists(kDefaultFontPath)) GTEST_SKIP() << "skipped: " << kDefaultFontPath << " is missing (console-setup-linux)";
  auto font = load_psf_file(kDefaultFontPath);
  ASSERT_TRUE(font.ok()) << font.error().message;
  EXPECT_EQ(font->height, 16);
  int lit = 0;
  for (int row = 0; row < 16; ++row) lit += __builtin_popcount(font->glyphs['A'][row]);
  EXPECT_GT(lit, 10) << "'A' has pixels";
  for (int row = 0; row < 16; ++row) EXPECT_EQ(font->glyphs[' '][row], 0);
  EXPECT_EQ(font->glyphs[0xDB][8], 0xFF) << "CP437 0xDB is the full block";
}

}  // namespace
}  // namespace kvpc::vga
