// SdlWindow: kvpc-display's window — shows the guest's picture from the shared framebuffer
// scaled to the window, uploads only the rows that changed, and turns SDL key and mouse events
// into wire messages for kvpc (display/display_wire.h).
//
//   title     "kvpc: NAME — running" (or paused, shutting down...), plus a grab hint
//   Ctrl+Alt+G grabs / releases mouse and keyboard (a click in the window also grabs);
//             mouse motion goes to the guest only while grabbed
//   close     first close asks the guest to shut down (kClose forced=0); a second close
//             forces the VM to stop (kClose forced=1)
//
// Idle cost: the loop sleeps in SDL_WaitEventTimeout; kvpc sends a frame only when rows
// changed (it polls its screen every 33 ms), so an idle screen costs neither side an upload
// or a present.
//
// Concurrency contract: every SDL call happens on the thread that calls run() (the process's
// main thread). Messages from kvpc arrive through post() from the socket reader thread, which
// queues them and wakes the SDL loop with an SDL user event.
#pragma once

#include <SDL.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "display/display_wire.h"

namespace kvpc {

class SdlWindow {
 public:
  using Send = std::function<bool(const display_wire::Message&)>;

  // `framebuffer`: the shared memfd mapping (kFramebufferBytes, read-only here).
  SdlWindow(std::string vm_name, const uint8_t* framebuffer, Send send)
      : name_(std::move(vm_name)), framebuffer_(framebuffer), send_(std::move(send)) {}

  // Opens the window; on failure returns why (SDL's reason), with SDL shut down again.
  std::string open();
  // Runs until kvpc says kQuit or goes away (post_gone()); then closes the window.
  void run();

  // From the socket reader thread.
  void post(const display_wire::Message& message);
  void post_gone();

 private:
  void update_title();
  void set_grab(bool on);
  void handle(const SDL_Event& event);
  bool apply(const display_wire::Message& message);  // false on kQuit
  void present();

  std::string name_;
  const uint8_t* framebuffer_;
  Send send_;
  SDL_Window* window_ = nullptr;
  SDL_Renderer* renderer_ = nullptr;
  SDL_Texture* texture_ = nullptr;
  uint32_t texture_width_ = 0, texture_height_ = 0;
  uint32_t wake_event_ = 0;
  bool grabbed_ = false;
  int closes_ = 0;
  std::string state_ = "starting";
  std::string title_;

  std::mutex inbox_mutex_;
  std::deque<display_wire::Message> inbox_;
  bool gone_ = false;
};

}  // namespace kvpc
