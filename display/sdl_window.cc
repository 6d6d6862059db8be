#include "display/sdl_window.h"

#include "display/sdl_library.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kvpc {
namespace {

uint8_t sdl_buttons(uint32_t state) {
  uint8_t buttons = 0;
  if (state & SDL_BUTTON(SDL_BUTTON_LEFT)) buttons |= 1;
  if (state & SDL_BUTTON(SDL_BUTTON_RIGHT)) buttons |= 2;
  if (state & SDL_BUTTON(SDL_BUTTON_MIDDLE)) buttons |= 4;
  return buttons;
}

}  // namespace

Result<std::unique_ptr<SdlWindow>> SdlWindow::open(std::string vm_name, Callbacks callbacks) {
  auto sdl = SdlLibrary::load();  // the first window of the process loads libSDL2
  if (!sdl) return make_error(fmt::format("--display sdl: {}", sdl.error().message));
  std::unique_ptr<SdlWindow> window(new SdlWindow(std::move(vm_name), std::move(callbacks)));
  window->sdl_ = *sdl;
  std::promise<Status> started;
  auto ready = started.get_future();
  window->thread_ = std::thread([w = window.get(), &started] { w->run(&started); });
  Status status = ready.get();
  if (!status) {
    window->thread_.join();
    return status.error();
  }
  return window;
}

SdlWindow::~SdlWindow() { stop(); }

void SdlWindow::stop() {
  quit_.store(true);
  if (thread_.joinable()) thread_.join();
}

void SdlWindow::set_state(std::string state) {
  std::lock_guard lock(state_mutex_);
  state_ = std::move(state);
  state_changed_ = true;
}

void SdlWindow::run(std::promise<Status>* started) {
  const SdlLibrary& sdl = *sdl_;
  if (sdl.InitSubSystem(SDL_INIT_VIDEO) != 0) {
    started->set_value(make_error(fmt::format("--display sdl: cannot start SDL video: {}", sdl.GetError())));
    return;
  }
  sdl.SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "nearest");
  SDL_Window* window = sdl.CreateWindow(fmt::format("kvpc: {}", name_).c_str(), SDL_WINDOWPOS_UNDEFINED,
                                        SDL_WINDOWPOS_UNDEFINED, 720, 400, SDL_WINDOW_RESIZABLE);
  SDL_Renderer* renderer = window != nullptr ? sdl.CreateRenderer(window, -1, 0) : nullptr;
  if (renderer == nullptr) {
    const std::string why = sdl.GetError();
    if (window != nullptr) sdl.DestroyWindow(window);
    sdl.QuitSubSystem(SDL_INIT_VIDEO);
    started->set_value(make_error(fmt::format("--display sdl: cannot open a window: {}", why)));
    return;
  }
  started->set_value(ok_status());

  SDL_Texture* texture = nullptr;
  Frame frame;
  uint64_t serial = 0;
  bool grabbed = false;
  int closes = 0;
  bool need_present = true;
  std::string title_state;
  uint32_t next_refresh = 0;
  auto update_title = [&] {
    std::string state;
    {
      std::lock_guard lock(state_mutex_);
      state = state_;
      state_changed_ = false;
    }
    if (closes > 0) state += closes == 1 ? " — shutting down (close again to force)" : " — stopping";
    const std::string title = fmt::format("kvpc: {} — {}{}", name_, state,
                                          grabbed ? " (input grabbed: Ctrl+Alt+G releases)" : "");
    if (title != title_state) {
      sdl.SetWindowTitle(window, title.c_str());
      title_state = title;
    }
  };
  auto set_grab = [&](bool on) {
    grabbed = on;
    sdl.SetWindowGrab(window, on ? SDL_TRUE : SDL_FALSE);
    sdl.SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
    update_title();
  };
  update_title();
  while (!quit_.load()) {
    SDL_Event event;
    const uint32_t now = sdl.GetTicks();
    const int wait = next_refresh > now ? static_cast<int>(next_refresh - now) : 0;
    if (sdl.WaitEventTimeout(&event, wait) != 0) {
      do {
        switch (event.type) {
          case SDL_QUIT: break;  // closing the window arrives as SDL_WINDOWEVENT_CLOSE too
          case SDL_WINDOWEVENT:
            if (event.window.event == SDL_WINDOWEVENT_CLOSE) {
              ++closes;
              update_title();
              if (callbacks_.on_close) callbacks_.on_close(closes > 1);
            } else if (event.window.event == SDL_WINDOWEVENT_EXPOSED ||
                       event.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
              need_present = true;
            } else if (event.window.event == SDL_WINDOWEVENT_FOCUS_LOST && grabbed) {
              set_grab(false);
            }
            break;
          case SDL_KEYDOWN:
          case SDL_KEYUP: {
            const SDL_Keymod mod = sdl.GetModState();
            if (event.type == SDL_KEYDOWN && event.key.keysym.scancode == SDL_SCANCODE_G && (mod & KMOD_CTRL) &&
                (mod & KMOD_ALT)) {
              set_grab(!grabbed);
              break;
            }
            if (event.key.repeat == 0 || event.type == SDL_KEYDOWN) {
              if (callbacks_.key) callbacks_.key(static_cast<uint16_t>(event.key.keysym.scancode), event.type == SDL_KEYDOWN);
            }
            break;
          }
          case SDL_MOUSEBUTTONDOWN:
            if (!grabbed) {
              set_grab(true);
              break;
            }
            [[fallthrough]];
          case SDL_MOUSEBUTTONUP:
            if (grabbed && callbacks_.mouse) callbacks_.mouse(0, 0, sdl_buttons(sdl.GetMouseState(nullptr, nullptr)));
            break;
          case SDL_MOUSEMOTION:
            // PS/2 counts y upwards; SDL's y grows downwards.
            if (grabbed && callbacks_.mouse) callbacks_.mouse(event.motion.xrel, -event.motion.yrel, sdl_buttons(event.motion.state));
            break;
          default: break;
        }
      } while (sdl.PollEvent(&event) != 0);
    }
    bool title_due = false;
    {
      std::lock_guard lock(state_mutex_);
      title_due = state_changed_;
    }
    if (title_due) update_title();
    if (sdl.GetTicks() < next_refresh) continue;
    next_refresh = sdl.GetTicks() + kRefreshMs;
    auto update = callbacks_.refresh ? callbacks_.refresh(serial, frame) : Result<DisplaySource::Update>(make_error("no source"));
    if (!update) continue;  // between boots: keep the last picture
    serial = update->serial;
    const Damage& damage = update->damage;
    if (damage.resized || texture == nullptr) {
      if (texture != nullptr) sdl.DestroyTexture(texture);
      texture = sdl.CreateTexture(renderer, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STREAMING,
                                  static_cast<int>(frame.width), static_cast<int>(frame.height));
      if (texture == nullptr) continue;
      // Small modes (320x200) open at twice their size; the window stays resizable.
      const int scale = frame.width < 640 ? 2 : 1;
      sdl.SetWindowSize(window, static_cast<int>(frame.width) * scale, static_cast<int>(frame.height) * scale);
      sdl.UpdateTexture(texture, nullptr, frame.rgba.data(), static_cast<int>(frame.width * 4));
      rows_uploaded_.fetch_add(frame.height);
      need_present = true;
    } else if (!damage.empty()) {
      SDL_Rect rows{0, static_cast<int>(damage.first), static_cast<int>(frame.width),
                    static_cast<int>(damage.last - damage.first)};
      sdl.UpdateTexture(texture, &rows, frame.row(damage.first), static_cast<int>(frame.width * 4));
      rows_uploaded_.fetch_add(damage.last - damage.first);
      need_present = true;
    }
    if (need_present && texture != nullptr) {
      sdl.RenderClear(renderer);
      sdl.RenderCopy(renderer, texture, nullptr, nullptr);
      sdl.RenderPresent(renderer);
      presents_.fetch_add(1);
      need_present = false;
    }
  }
  if (texture != nullptr) sdl.DestroyTexture(texture);
  sdl.DestroyRenderer(renderer);
  sdl.DestroyWindow(window);
  sdl.QuitSubSystem(SDL_INIT_VIDEO);
}

}  // namespace kvpc
