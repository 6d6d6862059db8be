// DisplaySource: the one place that turns the VGA into pictures for every consumer (the SDL
// window, screenshots over the control socket), so they share a single renderer and a
// single reader of the framebuffer's dirty log (KVM_GET_DIRTY_LOG clears the log: two
// readers would steal each other's pages).
//
// Each consumer keeps the serial it last saw; refresh() renders what changed and tells the
// consumer which rows changed since its serial, so a window that slept through a screenshot
// still uploads every row that changed meanwhile.
//
// Concurrency contract: every method takes the internal mutex; callable from any thread
// (the window thread, the event-loop thread answering `screenshot`). Rendering happens on
// the caller's thread, never on a vCPU thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "devices/vga/vga_device.h"
#include "display/frame.h"
#include "display/vga_renderer.h"
#include "vmm/result.h"

namespace kvpc {

class DisplaySource {
 public:
  // Fills `bitmap` with the framebuffer's dirty pages since the last call (clearing the
  // log); returns false when no log is available (then every row counts as dirty).
  using DirtyLogFetch = std::function<bool(std::span<uint64_t> bitmap)>;
  using Clock = std::function<uint64_t()>;  // milliseconds, for blinking

  DisplaySource(VgaDevice& vga, DirtyLogFetch fetch_dirty_log, Clock clock = {});

  struct Update {
    Damage damage;          // rows changed since the consumer's serial (resized: all)
    uint64_t serial = 0;    // pass back next time
    uint32_t width = 0, height = 0;
    std::string mode;
  };
  // Renders and copies the frame into `out` (rows outside the damage are left as they are,
  // so a consumer that keeps its own copy only pays for what changed).
  Update refresh(uint64_t since_serial, Frame& out);

 private:
  VgaDevice& vga_;
  DirtyLogFetch fetch_dirty_log_;
  Clock clock_;
  std::mutex mutex_;
  VgaSnapshot snapshot_;
  VgaRenderer renderer_;
  std::vector<uint64_t> dirty_bits_;
  std::vector<uint64_t> row_serial_;  // serial at which each row last changed
  uint64_t serial_ = 0;
  uint64_t resize_serial_ = 0;
};

}  // namespace kvpc
