// SdlLibrary: libSDL2, loaded with dlopen the first time a window is opened (`--display sdl`).
//
// Why not link it: libSDL2 pulls in ~50 shared libraries (X11, Wayland, PulseAudio, ALSA,
// systemd, gcrypt, codecs...). Linked, every VM — headless ones included — maps them and
// pays their relocations at start-up: ~3.5 MiB of RSS per VM (docs/performance.md, "Memory").
// Loaded on demand, only a VM that shows a window pays for it.
//
// The table holds exactly the SDL functions SdlWindow calls, typed from SDL's own headers
// (decltype), so a signature mismatch is a compile error, not a crash.
//
// Concurrency contract: load() may be called from any thread; the first call loads, later
// calls return the same table (or the same error). The library is never unloaded.
#pragma once

#include <SDL.h>

#include "vmm/result.h"

namespace kvpc {

struct SdlLibrary {
  decltype(&::SDL_InitSubSystem) InitSubSystem;
  decltype(&::SDL_QuitSubSystem) QuitSubSystem;
  decltype(&::SDL_GetError) GetError;
  decltype(&::SDL_SetHint) SetHint;
  decltype(&::SDL_CreateWindow) CreateWindow;
  decltype(&::SDL_DestroyWindow) DestroyWindow;
  decltype(&::SDL_SetWindowTitle) SetWindowTitle;
  decltype(&::SDL_SetWindowSize) SetWindowSize;
  decltype(&::SDL_SetWindowGrab) SetWindowGrab;
  decltype(&::SDL_SetRelativeMouseMode) SetRelativeMouseMode;
  decltype(&::SDL_CreateRenderer) CreateRenderer;
  decltype(&::SDL_DestroyRenderer) DestroyRenderer;
  decltype(&::SDL_RenderClear) RenderClear;
  decltype(&::SDL_RenderCopy) RenderCopy;
  decltype(&::SDL_RenderPresent) RenderPresent;
  decltype(&::SDL_CreateTexture) CreateTexture;
  decltype(&::SDL_DestroyTexture) DestroyTexture;
  decltype(&::SDL_UpdateTexture) UpdateTexture;
  decltype(&::SDL_GetTicks) GetTicks;
  decltype(&::SDL_WaitEventTimeout) WaitEventTimeout;
  decltype(&::SDL_PollEvent) PollEvent;
  decltype(&::SDL_GetModState) GetModState;
  decltype(&::SDL_GetMouseState) GetMouseState;

  // The loaded table, or why libSDL2 (libSDL2-2.0.so.0) or one of its functions is missing.
  static Result<const SdlLibrary*> load();
};

}  // namespace kvpc
