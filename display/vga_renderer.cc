#include "display/vga_renderer.h"

#include <algorithm>

#include <fmt/format.h>

namespace kvpc {
namespace {

using namespace vga;

constexpr uint32_t kFontMapOffsets[8] = {0x0000, 0x4000, 0x8000, 0xC000, 0x2000, 0x6000, 0xA000, 0xE000};
constexpr uint64_t kCursorBlinkMs = 267;  // 16 frames at 60 Hz: the VGA's cursor blink rate
constexpr uint64_t kCharBlinkMs = 533;    // 32 frames: character blink

uint8_t expand6(uint8_t v) { return static_cast<uint8_t>((v & 0x3F) << 2 | (v & 0x3F) >> 4); }

}  // namespace

uint32_t VgaRenderer::dac_colour(const VgaSnapshot& s, uint8_t index) const {
  index &= s.regs.pel_mask;
  const uint8_t* e = &s.regs.dac[size_t{index} * 3];
  if (s.dac8) return uint32_t{e[0]} << 16 | uint32_t{e[1]} << 8 | e[2];
  return uint32_t{expand6(e[0])} << 16 | uint32_t{expand6(e[1])} << 8 | expand6(e[2]);
}

uint32_t VgaRenderer::attribute_colour(const VgaSnapshot& s, uint8_t colour) const {
  // Attribute controller: colour plane enable, the 16-entry palette, then bits 4-7 from
  // the colour select register as the mode control's P54 bit says.
  colour &= s.regs.attr[attr::kColorPlaneEnable] & 0x0F;
  uint8_t index = s.regs.attr[colour] & 0x3F;
  const uint8_t select = s.regs.attr[attr::kColorSelect];
  if (s.regs.attr[attr::kModeControl] & 0x80) index = static_cast<uint8_t>((index & 0x0F) | (select & 0x03) << 4);
  index = static_cast<uint8_t>((index & 0x3F) | (select & 0x0C) << 4);
  return dac_colour(s, index);
}

void VgaRenderer::set_mode(Mode mode, uint32_t width, uint32_t height, std::string name, Damage& damage) {
  if (mode == mode_ && width == frame_.width && height == frame_.height) return;
  mode_ = mode;
  mode_name_ = std::move(name);
  frame_.resize(width, height);
  for (size_t i = 3; i < frame_.rgba.size(); i += 4) frame_.rgba[i] = 0xFF;
  cells_.clear();
  damage.resized = true;
  damage.add_rows(0, height);
}

Damage VgaRenderer::render(const VgaSnapshot& s, std::span<const uint8_t> framebuffer,
                           std::span<const uint64_t> framebuffer_dirty, uint64_t now_ms) {
  Damage damage;
  const bool regs_changed = s.regs.generation() != generation_;
  generation_ = s.regs.generation();
  const bool blanked = (s.regs.attr_index & attr::kPaletteAddressSource) == 0 ||
                       (s.regs.seq[seq::kClockingMode] & 0x20) != 0;
  if (s.dispi_enabled && s.bpp >= 8) {
    set_mode(Mode::kVbe, s.xres, s.yres, fmt::format("vbe {}x{}x{}", s.xres, s.yres, s.bpp), damage);
    const bool moved = s.frame_offset != frame_offset_;
    frame_offset_ = s.frame_offset;
    render_vbe(s, framebuffer, framebuffer_dirty, regs_changed || moved || damage.resized, damage);
    return damage;
  }
  const int max_scan = (s.regs.crtc[crtc::kMaxScanLine] & 0x1F) + 1;
  const int lines = s.regs.display_lines();
  if ((s.regs.gfx[gfx::kMisc] & 1) == 0) {
    const uint32_t cell_w = (s.regs.seq[seq::kClockingMode] & 1) ? 8 : 9;
    const uint32_t cols = std::clamp<uint32_t>(s.regs.crtc[crtc::kHorizontalDisplayEnd] + 1u, 1, 160);
    const uint32_t rows = std::clamp<uint32_t>(static_cast<uint32_t>(lines / max_scan), 1, 100);
    if (blanked) {
      set_mode(Mode::kBlank, cols * cell_w, rows * static_cast<uint32_t>(max_scan), "blank", damage);
      return damage;
    }
    set_mode(Mode::kText, cols * cell_w, rows * static_cast<uint32_t>(max_scan), fmt::format("text {}x{}", cols, rows),
             damage);
    render_text(s, now_ms, regs_changed || damage.resized, damage);
    return damage;
  }
  const int scan_div = max_scan * ((s.regs.crtc[crtc::kMaxScanLine] & 0x80) ? 2 : 1);
  const uint32_t height = std::clamp<uint32_t>(static_cast<uint32_t>(lines / scan_div), 1, 1200);
  const bool chained = (s.regs.seq[seq::kMemoryMode] & 0x08) != 0 || (s.regs.gfx[gfx::kMode] & 0x40) != 0;
  if (chained) {
    const uint32_t width = std::clamp<uint32_t>((s.regs.crtc[crtc::kHorizontalDisplayEnd] + 1u) * 4, 1, 1600);
    set_mode(blanked ? Mode::kBlank : Mode::kChained256, width, height,
             blanked ? "blank" : fmt::format("vga {}x{}x8", width, height), damage);
    if (!blanked) render_chained(s, regs_changed || damage.resized, damage);
  } else {
    const uint32_t width = std::clamp<uint32_t>((s.regs.crtc[crtc::kHorizontalDisplayEnd] + 1u) * 8, 1, 1600);
    set_mode(blanked ? Mode::kBlank : Mode::kPlanar16, width, height,
             blanked ? "blank" : fmt::format("vga {}x{}x4", width, height), damage);
    if (!blanked) render_planar(s, regs_changed || damage.resized, damage);
  }
  return damage;
}

void VgaRenderer::render_text(const VgaSnapshot& s, uint64_t now_ms, bool full, Damage& damage) {
  const auto& r = s.regs;
  const uint32_t cell_w = (r.seq[seq::kClockingMode] & 1) ? 8 : 9;
  const uint32_t cell_h = (r.crtc[crtc::kMaxScanLine] & 0x1F) + 1u;
  const uint32_t cols = frame_.width / cell_w, rows = frame_.height / cell_h;
  // Plane 2 changed: the font may have changed under every cell.
  if (s.font_dirty) full = true;
  if (cells_.size() != size_t{cols} * rows) {
    cells_.assign(size_t{cols} * rows, Cell{});
    full = true;
  }
  const bool blink_enabled = (r.attr[attr::kModeControl] & 0x08) != 0;
  const bool line_graphics = (r.attr[attr::kModeControl] & 0x04) != 0;
  const bool blink_on = (now_ms / kCharBlinkMs) % 2 == 0;
  const bool cursor_on = (now_ms / kCursorBlinkMs) % 2 == 0 && (r.crtc[crtc::kCursorStart] & 0x20) == 0;
  const uint32_t cursor_start = r.crtc[crtc::kCursorStart] & 0x1F, cursor_end = r.crtc[crtc::kCursorEnd] & 0x1F;
  const uint8_t map_select = r.seq[seq::kCharMapSelect];
  const uint32_t map_b = kFontMapOffsets[(map_select & 3) | (map_select >> 2 & 4)];
  const uint32_t map_a = kFontMapOffsets[(map_select >> 2 & 3) | (map_select >> 3 & 4)];
  const uint32_t line_chars = r.crtc[crtc::kOffset] * 2u;
  const uint32_t start = r.start_address(), cursor = r.cursor_address();
  auto plane = [&](int p, uint32_t offset) { return s.planes[4 * (offset % kPlaneSize) + static_cast<uint32_t>(p)]; };
  for (uint32_t row = 0; row < rows; ++row) {
    for (uint32_t col = 0; col < cols; ++col) {
      const uint32_t address = (start + row * line_chars + col) & 0xFFFF;
      Cell cell{plane(0, address * 2), plane(1, address * 2), cursor_on && address == cursor, false};
      cell.blink_hidden = blink_enabled && (cell.attr & 0x80) && !blink_on;
      Cell& old = cells_[size_t{row} * cols + col];
      if (!full && old == cell) continue;
      old = cell;
      const uint32_t fg = attribute_colour(s, cell.attr & 0x0F);
      const uint32_t bg = attribute_colour(s, static_cast<uint8_t>((cell.attr >> 4) & (blink_enabled ? 0x07 : 0x0F)));
      const uint32_t glyph = ((cell.attr & 0x08) ? map_a : map_b) + cell.ch * 32u;
      for (uint32_t y = 0; y < cell_h; ++y) {
        uint32_t bits = y < 32 ? plane(2, glyph + y) : 0;
        if (cell_w == 9) {
          bits <<= 1;
          // Line graphics: characters C0-DF repeat their 8th column into the 9th.
          if (line_graphics && cell.ch >= 0xC0 && cell.ch <= 0xDF) bits |= bits >> 1 & 1;
        }
        if (cell.blink_hidden) bits = 0;
        if (cell.cursor && cursor_start <= cursor_end && y >= cursor_start && y <= cursor_end) bits = 0x1FF;
        const uint32_t py = row * cell_h + y;
        for (uint32_t x = 0; x < cell_w; ++x) {
          put(col * cell_w + x, py, (bits >> (cell_w - 1 - x) & 1) ? fg : bg);
        }
      }
      damage.add_rows(row * cell_h, (row + 1) * cell_h);
    }
  }
}

void VgaRenderer::render_chained(const VgaSnapshot& s, bool full, Damage& damage) {
  const auto& r = s.regs;
  const uint32_t line_bytes = r.crtc[crtc::kOffset] * 8u;
  const uint32_t start = r.start_address() * 4u;
  for (uint32_t y = 0; y < frame_.height; ++y) {
    const uint32_t first = start + y * line_bytes;
    if (!full) {
      // Chain-4 byte address a lives at plane offset a / 4: the rows whose bytes fall into
      // a dirty chunk are the ones to redraw.
      const uint32_t chunk_a = (first / 4 % kPlaneSize) / kDirtyChunk;
      const uint32_t chunk_b = ((first + frame_.width - 1) / 4 % kPlaneSize) / kDirtyChunk;
      if (!s.planes_dirty.test(chunk_a) && !s.planes_dirty.test(chunk_b)) continue;
    }
    for (uint32_t x = 0; x < frame_.width; ++x) {
      put(x, y, dac_colour(s, s.planes[(first + x) % (4 * kPlaneSize)]));
    }
    damage.add_rows(y, y + 1);
  }
}

void VgaRenderer::render_planar(const VgaSnapshot& s, bool full, Damage& damage) {
  const auto& r = s.regs;
  const uint32_t line_bytes = r.crtc[crtc::kOffset] * 2u;
  const uint32_t start = r.start_address();
  for (uint32_t y = 0; y < frame_.height; ++y) {
    const uint32_t first = start + y * line_bytes;
    if (!full) {
      const uint32_t a = (first % kPlaneSize) / kDirtyChunk, b = ((first + frame_.width / 8) % kPlaneSize) / kDirtyChunk;
      if (!s.planes_dirty.test(a) && !s.planes_dirty.test(b)) continue;
    }
    for (uint32_t x = 0; x < frame_.width; ++x) {
      const uint32_t offset = (first + x / 8) % kPlaneSize;
      const int bit = 7 - static_cast<int>(x % 8);
      uint8_t colour = 0;
      for (int p = 0; p < 4; ++p) colour |= static_cast<uint8_t>((s.planes[4 * offset + static_cast<uint32_t>(p)] >> bit & 1) << p);
      put(x, y, attribute_colour(s, colour));
    }
    damage.add_rows(y, y + 1);
  }
}

void VgaRenderer::render_vbe(const VgaSnapshot& s, std::span<const uint8_t> fb, std::span<const uint64_t> dirty,
                             bool full, Damage& damage) {
  const uint32_t bytes_pp = (s.bpp + 7) / 8;
  if (dirty.empty() || s.framebuffer_written_by_device) full = true;
  for (uint32_t y = 0; y < frame_.height; ++y) {
    const uint64_t first = s.frame_offset + uint64_t{y} * s.stride;
    const uint64_t last = first + uint64_t{frame_.width} * bytes_pp;
    if (last > fb.size()) break;  // BochsDispi keeps the frame inside memory; be safe anyway
    if (!full) {
      bool changed = false;
      for (uint64_t page = first / 4096; page <= (last - 1) / 4096 && !changed; ++page) {
        changed = page / 64 < dirty.size() && (dirty[page / 64] >> (page % 64) & 1);
      }
      if (!changed) continue;
    }
    const uint8_t* src = fb.data() + first;
    for (uint32_t x = 0; x < frame_.width; ++x, src += bytes_pp) {
      uint32_t rgb = 0;
      switch (s.bpp) {
        case 8: rgb = dac_colour(s, src[0]); break;
        case 15: {
          const uint32_t v = src[0] | uint32_t{src[1]} << 8;
          rgb = ((v >> 10 & 0x1F) * 255 / 31) << 16 | ((v >> 5 & 0x1F) * 255 / 31) << 8 | (v & 0x1F) * 255 / 31;
          break;
        }
        case 16: {
          const uint32_t v = src[0] | uint32_t{src[1]} << 8;
          rgb = ((v >> 11 & 0x1F) * 255 / 31) << 16 | ((v >> 5 & 0x3F) * 255 / 63) << 8 | (v & 0x1F) * 255 / 31;
          break;
        }
        default: rgb = uint32_t{src[2]} << 16 | uint32_t{src[1]} << 8 | src[0]; break;  // 24/32: B, G, R(, X)
      }
      put(x, y, rgb);
    }
    damage.add_rows(y, y + 1);
  }
}

}  // namespace kvpc
