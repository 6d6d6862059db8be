#include "display/display_source.h"

#include <chrono>
#include <cstring>

namespace kvpc {

DisplaySource::DisplaySource(VgaDevice& vga, DirtyLogFetch fetch_dirty_log, Clock clock)
    : vga_(vga), fetch_dirty_log_(std::move(fetch_dirty_log)), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now().time_since_epoch())
                                       .count());
    };
  }
  dirty_bits_.assign((vga.framebuffer().size() / 4096 + 63) / 64, 0);
}

DisplaySource::Update DisplaySource::refresh(uint64_t since_serial, Frame& out) {
  std::lock_guard lock(mutex_);
  vga_.snapshot(snapshot_);
  std::span<const uint64_t> dirty;
  if (fetch_dirty_log_ && fetch_dirty_log_(dirty_bits_)) dirty = dirty_bits_;
  const Damage rendered = renderer_.render(snapshot_, vga_.framebuffer(), dirty, clock_());
  const Frame& frame = renderer_.frame();
  ++serial_;
  if (rendered.resized || row_serial_.size() != frame.height) {
    row_serial_.assign(frame.height, serial_);
    resize_serial_ = serial_;
  } else {
    for (uint32_t y = rendered.first; y < rendered.last && y < frame.height; ++y) row_serial_[y] = serial_;
  }
  Update update;
  update.serial = serial_;
  update.width = frame.width;
  update.height = frame.height;
  update.mode = renderer_.mode_name();
  const bool resized = out.width != frame.width || out.height != frame.height || since_serial < resize_serial_;
  if (resized) {
    out = frame;
    update.damage.resized = true;
    update.damage.add_rows(0, frame.height);
    return update;
  }
  for (uint32_t y = 0; y < frame.height; ++y) {
    if (row_serial_[y] <= since_serial) continue;
    std::memcpy(out.row(y), frame.row(y), size_t{frame.width} * 4);
    update.damage.add_rows(y, y + 1);
  }
  return update;
}

}  // namespace kvpc
