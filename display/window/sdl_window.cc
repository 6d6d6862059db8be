#include "display/window/sdl_window.h"

#include <algorithm>

#include <fmt/format.h>

namespace kvpc {
namespace {

namespace wire = display_wire;

uint8_t sdl_buttons(uint32_t state) {
  uint8_t buttons = 0;
  if (state & SDL_BUTTON(SDL_BUTTON_LEFT)) buttons |= 1;
  if (state & SDL_BUTTON(SDL_BUTTON_RIGHT)) buttons |= 2;
  if (state & SDL_BUTTON(SDL_BUTTON_MIDDLE)) buttons |= 4;
  return buttons;
}

int32_t clamp_delta(int v) { return std::clamp<int32_t>(v, -wire::kMaxMouseDelta, wire::kMaxMouseDelta); }

}  // namespace

std::string SdlWindow::open() {
  if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) return fmt::format("cannot start SDL video: {}", SDL_GetError());
  SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "nearest");
  window_ = SDL_CreateWindow(fmt::format("kvpc: {}", name_).c_str(), SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                             720, 400, SDL_WINDOW_RESIZABLE);
  renderer_ = window_ != nullptr ? SDL_CreateRenderer(window_, -1, 0) : nullptr;
  wake_event_ = SDL_RegisterEvents(1);
  if (renderer_ == nullptr || wake_event_ == static_cast<uint32_t>(-1)) {
    const std::string why = SDL_GetError();
    if (window_ != nullptr) SDL_DestroyWindow(window_);
    window_ = nullptr;
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    return fmt::format("cannot open a window: {}", why);
  }
  update_title();
  return {};
}

void SdlWindow::post(const wire::Message& message) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(message);
  }
  SDL_Event wake{};
  wake.type = wake_event_;
  SDL_PushEvent(&wake);
}

void SdlWindow::post_gone() {
  {
    std::lock_guard lock(inbox_mutex_);
    gone_ = true;
  }
  SDL_Event wake{};
  wake.type = wake_event_;
  SDL_PushEvent(&wake);
}

void SdlWindow::update_title() {
  std::string state = state_;
  if (closes_ > 0) state += closes_ == 1 ? " — shutting down (close again to force)" : " — stopping";
  const std::string title =
      fmt::format("kvpc: {} — {}{}", name_, state, grabbed_ ? " (input grabbed: Ctrl+Alt+G releases)" : "");
  if (title != title_) {
    SDL_SetWindowTitle(window_, title.c_str());
    title_ = title;
  }
}

void SdlWindow::set_grab(bool on) {
  grabbed_ = on;
  SDL_SetWindowGrab(window_, on ? SDL_TRUE : SDL_FALSE);
  SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
  update_title();
}

void SdlWindow::present() {
  if (texture_ == nullptr) return;
  SDL_RenderClear(renderer_);
  SDL_RenderCopy(renderer_, texture_, nullptr, nullptr);
  SDL_RenderPresent(renderer_);
}

bool SdlWindow::apply(const wire::Message& message) {
  switch (message.type) {
    case wire::Type::kQuit: return false;
    case wire::Type::kState:
      state_ = wire::text_of(message);
      update_title();
      return true;
    case wire::Type::kFrame: {
      const wire::FrameFields& f = message.frame;  // validated by parse_from_kvpc
      if (f.resized || texture_ == nullptr || f.width != texture_width_ || f.height != texture_height_) {
        if (texture_ != nullptr) SDL_DestroyTexture(texture_);
        texture_ = SDL_CreateTexture(renderer_, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STREAMING,
                                     static_cast<int>(f.width), static_cast<int>(f.height));
        texture_width_ = f.width;
        texture_height_ = f.height;
        if (texture_ != nullptr) {
          // Small modes (320x200) open at twice their size; the window stays resizable.
          const int scale = f.width < 640 ? 2 : 1;
          SDL_SetWindowSize(window_, static_cast<int>(f.width) * scale, static_cast<int>(f.height) * scale);
          SDL_UpdateTexture(texture_, nullptr, framebuffer_, static_cast<int>(f.stride));
        }
      } else if (f.first_row < f.last_row) {
        SDL_Rect rows{0, static_cast<int>(f.first_row), static_cast<int>(f.width),
                      static_cast<int>(f.last_row - f.first_row)};
        SDL_UpdateTexture(texture_, &rows, framebuffer_ + size_t{f.first_row} * f.stride, static_cast<int>(f.stride));
      }
      // The rows are in the texture now: kvpc may write the framebuffer again.
      wire::Message ack = wire::make(wire::Type::kAck);
      ack.ack.serial = f.serial;
      if (!send_(ack)) return false;
      present();
      return true;
    }
    default: return true;  // parse_from_kvpc lets no other type through
  }
}

void SdlWindow::handle(const SDL_Event& event) {
  switch (event.type) {
    case SDL_QUIT: break;  // closing the window arrives as SDL_WINDOWEVENT_CLOSE too
    case SDL_WINDOWEVENT:
      if (event.window.event == SDL_WINDOWEVENT_CLOSE) {
        ++closes_;
        update_title();
        wire::Message close = wire::make(wire::Type::kClose);
        close.close.forced = closes_ > 1 ? 1 : 0;
        send_(close);
      } else if (event.window.event == SDL_WINDOWEVENT_EXPOSED || event.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
        present();
      } else if (event.window.event == SDL_WINDOWEVENT_FOCUS_LOST && grabbed_) {
        set_grab(false);
      }
      break;
    case SDL_KEYDOWN:
    case SDL_KEYUP: {
      const SDL_Keymod mod = SDL_GetModState();
      if (event.type == SDL_KEYDOWN && event.key.keysym.scancode == SDL_SCANCODE_G && (mod & KMOD_CTRL) &&
          (mod & KMOD_ALT)) {
        set_grab(!grabbed_);
        break;
      }
      // SDL scancodes are USB HID usages; the ones past the keyboard page have no PS/2 key.
      const int usage = event.key.keysym.scancode;
      if (usage > 0 && usage <= wire::kMaxHidUsage && (event.key.repeat == 0 || event.type == SDL_KEYDOWN)) {
        wire::Message key = wire::make(wire::Type::kKey);
        key.key.hid_usage = static_cast<uint16_t>(usage);
        key.key.pressed = event.type == SDL_KEYDOWN ? 1 : 0;
        send_(key);
      }
      break;
    }
    case SDL_MOUSEBUTTONDOWN:
      if (!grabbed_) {
        set_grab(true);
        break;
      }
      [[fallthrough]];
    case SDL_MOUSEBUTTONUP:
      if (grabbed_) {
        wire::Message mouse = wire::make(wire::Type::kMouse);
        mouse.mouse.buttons = sdl_buttons(SDL_GetMouseState(nullptr, nullptr));
        send_(mouse);
      }
      break;
    case SDL_MOUSEMOTION:
      if (grabbed_) {
        wire::Message mouse = wire::make(wire::Type::kMouse);
        mouse.mouse.dx = clamp_delta(event.motion.xrel);
        mouse.mouse.dy = clamp_delta(-event.motion.yrel);  // PS/2 counts y upwards; SDL's y grows downwards
        mouse.mouse.buttons = sdl_buttons(event.motion.state);
        send_(mouse);
      }
      break;
    default: break;
  }
}

void SdlWindow::run() {
  bool running = true;
  while (running) {
    SDL_Event event;
    // SDL_PushEvent from the reader thread wakes this wait; the timeout is only a safety net.
    if (SDL_WaitEventTimeout(&event, 250) != 0) {
      do {
        if (event.type != wake_event_) handle(event);
      } while (SDL_PollEvent(&event) != 0);
    }
    for (;;) {
      wire::Message message;
      {
        std::lock_guard lock(inbox_mutex_);
        if (gone_) {
          running = false;
          break;
        }
        if (inbox_.empty()) break;
        message = inbox_.front();
        inbox_.pop_front();
      }
      if (!apply(message)) {
        running = false;
        break;
      }
    }
  }
  if (texture_ != nullptr) SDL_DestroyTexture(texture_);
  SDL_DestroyRenderer(renderer_);
  SDL_DestroyWindow(window_);
  SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

}  // namespace kvpc
