#include "devices/vga/psf_font.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include <fmt/format.h>

namespace kvpc::vga {
namespace {

constexpr uint16_t kCp437High[128] = {
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7, 0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE,
    0x00EC, 0x00C4, 0x00C5, 0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9, 0x00FF, 0x00D6,
    0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192, 0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA,
    0x00BA, 0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB, 0x2591, 0x2592, 0x2593, 0x2502,
    0x2524, 0x2561, 0x2562, 0x2556, 0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510, 0x2514,
    0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F, 0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550,
    0x256C, 0x2567, 0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B, 0x256A, 0x2518, 0x250C,
    0x2588, 0x2584, 0x258C, 0x2590, 0x2580, 0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4,
    0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229, 0x2261, 0x00B1, 0x2265, 0x2264, 0x2320,
    0x2321, 0x00F7, 0x2248, 0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0};
constexpr uint16_t kCp437Low[32] = {0x0000, 0x263A, 0x263B, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022,
                                    0x25D8, 0x25CB, 0x25D9, 0x2642, 0x2640, 0x266A, 0x266B, 0x263C,
                                    0x25BA, 0x25C4, 0x2195, 0x203C, 0x00B6, 0x00A7, 0x25AC, 0x21A8,
                                    0x2191, 0x2193, 0x2192, 0x2190, 0x221F, 0x2194, 0x25B2, 0x25BC};

uint32_t le32(std::span<const uint8_t> b, size_t at) {
  return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
}

// Decodes one UTF-8 sequence at `at`; advances `at`. Returns 0xFFFFFFFF on malformed input.
uint32_t next_utf8(std::span<const uint8_t> b, size_t& at, size_t end) {
  const uint8_t lead = b[at++];
  int extra = 0;
  uint32_t cp = 0;
  if (lead < 0x80) return lead;
  if ((lead & 0xE0) == 0xC0) { extra = 1; cp = lead & 0x1F; }
  else if ((lead & 0xF0) == 0xE0) { extra = 2; cp = lead & 0x0F; }
  else if ((lead & 0xF8) == 0xF0) { extra = 3; cp = lead & 0x07; }
  else return 0xFFFFFFFF;
  for (int i = 0; i < extra; ++i) {
    if (at >= end || (b[at] & 0xC0) != 0x80) return 0xFFFFFFFF;
    cp = cp << 6 | (b[at++] & 0x3F);
  }
  return cp;
}

// glyph index -> its rows, plus code point -> first glyph index that claims it.
struct RawFont {
  uint32_t count = 0, height = 0, bytes_per_glyph = 0;
  size_t glyph_offset = 0;
  std::map<uint32_t, uint32_t> unicode;  // empty: no table
};

Result<RawFont> parse_psf1(std::span<const uint8_t> b) {
  if (b.size() < 4) return make_error("PSF1 font is shorter than its header");
  RawFont f;
  const uint8_t mode = b[2];
  f.count = (mode & 0x01) ? 512 : 256;
  f.height = b[3];
  f.bytes_per_glyph = f.height;
  f.glyph_offset = 4;
  if (f.height == 0 || f.height > 32) return make_error(fmt::format("PSF1 font height {} is not 1 to 32", f.height));
  const size_t glyph_end = f.glyph_offset + size_t{f.count} * f.bytes_per_glyph;
  if (glyph_end > b.size()) return make_error("PSF1 font is truncated: its glyphs run past the end of the file");
  if (mode & 0x06) {  // Unicode table: u16 per entry, 0xFFFF ends a glyph, 0xFFFE starts sequences
    size_t at = glyph_end;
    for (uint32_t glyph = 0; glyph < f.count; ++glyph) {
      bool in_sequence = false;
      while (true) {
        if (at + 2 > b.size()) return make_error("PSF1 Unicode table is truncated");
        const uint16_t value = static_cast<uint16_t>(b[at] | b[at + 1] << 8);
        at += 2;
        if (value == 0xFFFF) break;
        if (value == 0xFFFE) in_sequence = true;
        else if (!in_sequence) f.unicode.emplace(value, glyph);
      }
    }
  }
  return f;
}

Result<RawFont> parse_psf2(std::span<const uint8_t> b) {
  if (b.size() < 32) return make_error("PSF2 font is shorter than its header");
  RawFont f;
  const uint32_t header_size = le32(b, 8), flags = le32(b, 12);
  f.count = le32(b, 16);
  f.bytes_per_glyph = le32(b, 20);
  f.height = le32(b, 24);
  const uint32_t width = le32(b, 28);
  if (width != 8) return make_error(fmt::format("PSF2 font is {} pixels wide; a VGA cell needs 8", width));
  if (f.height == 0 || f.height > 32) return make_error(fmt::format("PSF2 font height {} is not 1 to 32", f.height));
  if (f.bytes_per_glyph != f.height) return make_error("PSF2 font's glyph size does not match 8 x height");
  if (f.count == 0 || f.count > 65536) return make_error(fmt::format("PSF2 font has {} glyphs", f.count));
  if (header_size < 32 || header_size > b.size()) return make_error("PSF2 header size is out of range");
  f.glyph_offset = header_size;
  const uint64_t glyph_end = uint64_t{header_size} + uint64_t{f.count} * f.bytes_per_glyph;
  if (glyph_end > b.size()) return make_error("PSF2 font is truncated: its glyphs run past the end of the file");
  if (flags & 1) {  // UTF-8 table: 0xFF ends a glyph, 0xFE starts sequences
    size_t at = static_cast<size_t>(glyph_end);
    for (uint32_t glyph = 0; glyph < f.count && at < b.size(); ++glyph) {
      bool in_sequence = false;
      while (at < b.size() && b[at] != 0xFF) {
        if (b[at] == 0xFE) {
          in_sequence = true;
          ++at;
          continue;
        }
        const uint32_t cp = next_utf8(b, at, b.size());
        if (cp == 0xFFFFFFFF) return make_error("PSF2 Unicode table holds malformed UTF-8");
        if (!in_sequence) f.unicode.emplace(cp, glyph);
      }
      ++at;  // the 0xFF
    }
  }
  return f;
}

}  // namespace

uint32_t cp437_to_unicode(uint8_t code) {
  if (code < 0x20) return kCp437Low[code];
  if (code < 0x7F) return code;
  if (code == 0x7F) return 0x2302;
  return kCp437High[code - 0x80];
}

Result<VgaFont> parse_psf(std::span<const uint8_t> bytes) {
  Result<RawFont> raw = make_error("not a PSF font (bad magic)");
  if (bytes.size() >= 2 && bytes[0] == 0x36 && bytes[1] == 0x04) raw = parse_psf1(bytes);
  else if (bytes.size() >= 4 && le32(bytes, 0) == 0x864AB572) raw = parse_psf2(bytes);
  if (!raw) return raw.error();
  const RawFont& f = raw.value();
  VgaFont font;
  font.height = static_cast<int>(f.height);
  auto copy_glyph = [&](uint32_t glyph, std::array<uint8_t, 32>& out) {
    std::memcpy(out.data(), bytes.data() + f.glyph_offset + size_t{glyph} * f.bytes_per_glyph, f.bytes_per_glyph);
  };
  uint32_t fallback = '?' < f.count ? '?' : 0;
  if (!f.unicode.empty()) {
    if (auto it = f.unicode.find('?'); it != f.unicode.end()) fallback = it->second;
  }
  for (int code = 0; code < 256; ++code) {
    uint32_t glyph = static_cast<uint32_t>(code);
    if (!f.unicode.empty()) {
      auto it = f.unicode.find(cp437_to_unicode(static_cast<uint8_t>(code)));
      if (it != f.unicode.end()) glyph = it->second;
      else if (code == 0x00 || code == 0x20 || code == 0xFF) continue;  // blanks stay blank
      else glyph = fallback;
    } else if (glyph >= f.count) {
      continue;
    }
    copy_glyph(glyph, font.glyphs[code]);
  }
  return font;
}

Result<std::vector<uint8_t>> gunzip(std::span<const uint8_t> bytes, size_t max_output) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return make_error("zlib: inflateInit2 failed");
  std::vector<uint8_t> out;
  stream.next_in = const_cast<Bytef*>(bytes.data());  // zlib's API is not const-correct; it only reads
  stream.avail_in = static_cast<uInt>(bytes.size());
  uint8_t chunk[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    stream.next_out = chunk;
    stream.avail_out = sizeof(chunk);
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&stream);
      return make_error(fmt::format("gzip data is corrupt ({})", stream.msg != nullptr ? stream.msg : "zlib error"));
    }
    out.insert(out.end(), chunk, chunk + (sizeof(chunk) - stream.avail_out));
    if (out.size() > max_output) {
      inflateEnd(&stream);
      return make_error(fmt::format("gzip data expands past {} bytes", max_output));
    }
    if (rc == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      return make_error("gzip data is truncated");
    }
  }
  inflateEnd(&stream);
  return out;
}

Result<std::vector<uint8_t>> read_font_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(fmt::format("cannot open font {}: {}", path, std::strerror(errno)));
  std::vector<uint8_t> bytes;
  char buffer[65536];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    bytes.insert(bytes.end(), buffer, buffer + in.gcount());
    if (bytes.size() > kMaxFontBytes) return make_error(fmt::format("font {} is larger than 4 MiB", path));
  }
  return bytes;
}

Result<VgaFont> decode_psf(std::span<const uint8_t> file_bytes, const std::string& name) {
  std::vector<uint8_t> plain;
  if (file_bytes.size() >= 2 && file_bytes[0] == 0x1F && file_bytes[1] == 0x8B) {
    auto inflated = gunzip(file_bytes, kMaxFontBytes);
    if (!inflated) return make_error(fmt::format("font {}: {}", name, inflated.error().message));
    plain = std::move(inflated).value();
    file_bytes = plain;
  }
  auto font = parse_psf(file_bytes);
  if (!font) return make_error(fmt::format("font {}: {}", name, font.error().message));
  return font;
}

Result<VgaFont> load_psf_file(const std::string& path) {
  auto bytes = read_font_file(path);
  if (!bytes) return bytes.error();
  return decode_psf(*bytes, path);
}

}  // namespace kvpc::vga
