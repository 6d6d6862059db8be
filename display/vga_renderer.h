// VgaRenderer: VGA/VBE device state -> an RGBA Frame, re-drawing only what changed.
//
// Modes: text (any CRTC geometry; 8- or 9-dot cells, glyphs from plane 2 through the
// character map select, colours through the attribute palette and the DAC, blink vs
// bright background per the attribute mode control, cursor shape from CR0A/CR0B), 256-colour
// chained graphics (mode 13h), 16-colour planar graphics (modes 0Dh-12h), and Bochs VBE
// linear framebuffers at 8 (through the DAC), 15, 16, 24 and 32 bits per pixel.
//
// Change tracking: text mode compares every cell (character, attribute, cursor, blink
// state) with what it drew last and draws only cells that differ; graphics modes turn the
// plane dirty chunks (VgaSnapshot::planes_dirty) or the framebuffer's dirty pages (the
// accelerator's dirty log) into rows. A register change (palette, mode, geometry) redraws
// everything. render() reports the rows it touched, so a window uploads only those.
//
// Concurrency contract: one renderer per consumer, used from one thread; it only reads the
// snapshot and the framebuffer span (guest memory: a racing guest store shows up at worst as
// a torn pixel, fixed by the next dirty-page report).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "devices/vga/vga_device.h"
#include "display/frame.h"

namespace kvpc {

class VgaRenderer {
 public:
  // `framebuffer_dirty`: one bit per 4 KiB page of the framebuffer written since the last
  // call, or empty when unknown (then every framebuffer row counts as changed).
  // `now_ms` drives cursor and character blinking.
  Damage render(const VgaSnapshot& snapshot, std::span<const uint8_t> framebuffer,
                std::span<const uint64_t> framebuffer_dirty, uint64_t now_ms);
  const Frame& frame() const { return frame_; }
  // "text 80x25", "vga 320x200x8", "vbe 1024x768x32", "blank": for status and logs.
  const std::string& mode_name() const { return mode_name_; }

 private:
  enum class Mode { kNone, kBlank, kText, kChained256, kPlanar16, kVbe };
  struct Cell {
    uint8_t ch = 0, attr = 0;
    bool cursor = false, blink_hidden = false;
    bool operator==(const Cell&) const = default;
  };

  void set_mode(Mode mode, uint32_t width, uint32_t height, std::string name, Damage& damage);
  void render_text(const VgaSnapshot& s, uint64_t now_ms, bool full, Damage& damage);
  void render_chained(const VgaSnapshot& s, bool full, Damage& damage);
  void render_planar(const VgaSnapshot& s, bool full, Damage& damage);
  void render_vbe(const VgaSnapshot& s, std::span<const uint8_t> fb, std::span<const uint64_t> dirty, bool full,
                  Damage& damage);
  uint32_t dac_colour(const VgaSnapshot& s, uint8_t index) const;
  uint32_t attribute_colour(const VgaSnapshot& s, uint8_t colour) const;
  void put(uint32_t x, uint32_t y, uint32_t rgb) {
    uint8_t* p = frame_.row(y) + size_t{x} * 4;
    p[0] = static_cast<uint8_t>(rgb >> 16);
    p[1] = static_cast<uint8_t>(rgb >> 8);
    p[2] = static_cast<uint8_t>(rgb);
    p[3] = 0xFF;
  }

  Frame frame_;
  Mode mode_ = Mode::kNone;
  std::string mode_name_ = "none";
  uint32_t generation_ = ~0u;
  uint64_t frame_offset_ = ~0ULL;
  std::vector<Cell> cells_;
};

}  // namespace kvpc
