// Frame: what the guest shows, as 8-bit RGBA pixels in memory order R, G, B, A (SDL's
// SDL_PIXELFORMAT_RGBA32 and libpng's PNG_COLOR_TYPE_RGBA both take this layout as is).
#pragma once

#include <cstdint>
#include <vector>

namespace kvpc {

struct Frame {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> rgba;  // width * height * 4

  void resize(uint32_t w, uint32_t h) {
    width = w;
    height = h;
    rgba.assign(size_t{w} * h * 4, 0);
  }
  uint8_t* row(uint32_t y) { return rgba.data() + size_t{y} * width * 4; }
  const uint8_t* row(uint32_t y) const { return rgba.data() + size_t{y} * width * 4; }
  uint32_t pixel(uint32_t x, uint32_t y) const {  // 0xRRGGBB, for tests
    const uint8_t* p = row(y) + size_t{x} * 4;
    return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2];
  }
};

// Rows [first, last) of a frame that changed; empty when first == last.
struct Damage {
  uint32_t first = 0;
  uint32_t last = 0;
  bool resized = false;
  bool empty() const { return first >= last && !resized; }
  void add_rows(uint32_t a, uint32_t b) {
    if (a >= b) return;
    if (first >= last) {
      first = a;
      last = b;
    } else {
      if (a < first) first = a;
      if (b > last) last = b;
    }
  }
};

}  // namespace kvpc
