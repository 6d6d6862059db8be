// SdlWindow: the `--display sdl` window — a thread of its own that shows the guest's screen
// scaled to the window, uploads only the rows that changed, and turns SDL key and mouse
// events into PS/2 input.
//
//   title     "kvpc: NAME — running" (or paused, shutting down...), plus a grab hint
//   Ctrl+Alt+G grabs / releases mouse and keyboard (a click in the window also grabs);
//             mouse motion goes to the guest only while grabbed
//   close     first close asks the guest to shut down (on_close(false)); a second close
//             forces the VM to stop (on_close(true))
//
// Idle cost: the thread waits in SDL_WaitEventTimeout and polls the display source every
// kRefreshMs; when no row changed it neither uploads nor presents.
//
// Concurrency contract: every SDL call happens on the window thread (SDL_Init included).
// set_state() and stop() may be called from any thread; stop() joins the thread (call it
// from a thread that the window's callbacks never wait for).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "display/display_source.h"
#include "display/frame.h"
#include "vmm/result.h"

namespace kvpc {

struct SdlLibrary;

class SdlWindow {
 public:
  struct Callbacks {
    std::function<Result<DisplaySource::Update>(uint64_t since_serial, Frame& frame)> refresh;
    std::function<void(uint16_t hid_usage, bool pressed)> key;
    std::function<void(int dx, int dy, uint8_t buttons)> mouse;
    std::function<void(bool forced)> on_close;
  };
  static constexpr int kRefreshMs = 33;

  // Starts the window thread; fails (with SDL's reason) when no window can be opened.
  static Result<std::unique_ptr<SdlWindow>> open(std::string vm_name, Callbacks callbacks);
  ~SdlWindow();

  void set_state(std::string state);  // "running", "paused", ...
  void stop();

  // Frames presented and rows uploaded so far (for the idle-cost measurement).
  uint64_t presents() const { return presents_.load(); }
  uint64_t rows_uploaded() const { return rows_uploaded_.load(); }

 private:
  SdlWindow(std::string vm_name, Callbacks callbacks) : name_(std::move(vm_name)), callbacks_(std::move(callbacks)) {}
  void run(std::promise<Status>* started);

  const SdlLibrary* sdl_ = nullptr;  // libSDL2, loaded by open() (display/sdl_library.h)
  std::string name_;
  Callbacks callbacks_;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::mutex state_mutex_;
  std::string state_ = "starting";
  bool state_changed_ = true;
  std::atomic<uint64_t> presents_{0};
  std::atomic<uint64_t> rows_uploaded_{0};
};

}  // namespace kvpc
