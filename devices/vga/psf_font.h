// PsfFont: a Linux console font (PSF1 or PSF2, optionally gzip-compressed, as the Debian
// packages console-setup-linux and kbd ship in /usr/share/consolefonts) turned into the
// 256-glyph, code page 437 font a VGA keeps in plane 2.
//
// Fonts with a Unicode table are re-ordered through CP437 -> Unicode, so byte 0xC4 shows
// the box-drawing line whatever order the PSF file stores its glyphs in; a code point the
// font lacks gets the font's '?' glyph. Fonts without a table are taken in file order.
// Only 8-pixel-wide fonts of 1 to 32 rows fit a VGA character cell; others are refused.
//
// Every size and offset in the file is checked: a malformed or hostile font is an error,
// never a read past the buffer. Decompressed data is capped at kMaxFontBytes.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/result.h"

namespace kvpc::vga {

struct VgaFont {
  int height = 16;                                    // rows per glyph (1..32)
  std::array<std::array<uint8_t, 32>, 256> glyphs{};  // CP437 order, one byte per row, bit 7 = left
};

inline constexpr size_t kMaxFontBytes = 4 << 20;
// The font kvpc preloads for direct-boot guests (Debian console-setup-linux).
inline constexpr const char* kDefaultFontPath = "/usr/share/consolefonts/Uni2-VGA16.psf.gz";

// The Unicode code point of each CP437 byte (0x00 maps to U+0000).
uint32_t cp437_to_unicode(uint8_t code);

Result<VgaFont> parse_psf(std::span<const uint8_t> bytes);
// Reads a file, gunzips it when it starts with the gzip magic, parses it.
Result<VgaFont> load_psf_file(const std::string& path);
// The two halves of load_psf_file: reading the file (system calls), and gunzip + parse (pure
// computation, which may run on a sandboxed thread; `name` is for messages).
Result<std::vector<uint8_t>> read_font_file(const std::string& path);
Result<VgaFont> decode_psf(std::span<const uint8_t> file_bytes, const std::string& name);
// gunzip with an output cap (exposed for tests).
Result<std::vector<uint8_t>> gunzip(std::span<const uint8_t> bytes, size_t max_output);

}  // namespace kvpc::vga
