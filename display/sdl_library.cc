#include "display/sdl_library.h"

#include "display/dynamic_library.h"

namespace kvpc {
namespace {

constexpr const char* kSoname = "libSDL2-2.0.so.0";  // SDL 2's stable ABI name

Result<const SdlLibrary*> load_once() {
  auto library = DynamicLibrary::open(kSoname);
  if (!library) return library.error();
  static SdlLibrary sdl;
  std::string error;
#define KVPC_SDL_RESOLVE(name) library->resolve("SDL_" #name, sdl.name, error)
  const bool complete =
      KVPC_SDL_RESOLVE(InitSubSystem) && KVPC_SDL_RESOLVE(QuitSubSystem) && KVPC_SDL_RESOLVE(GetError) &&
      KVPC_SDL_RESOLVE(SetHint) && KVPC_SDL_RESOLVE(CreateWindow) && KVPC_SDL_RESOLVE(DestroyWindow) &&
      KVPC_SDL_RESOLVE(SetWindowTitle) && KVPC_SDL_RESOLVE(SetWindowSize) && KVPC_SDL_RESOLVE(SetWindowGrab) &&
      KVPC_SDL_RESOLVE(SetRelativeMouseMode) && KVPC_SDL_RESOLVE(CreateRenderer) &&
      KVPC_SDL_RESOLVE(DestroyRenderer) && KVPC_SDL_RESOLVE(RenderClear) && KVPC_SDL_RESOLVE(RenderCopy) &&
      KVPC_SDL_RESOLVE(RenderPresent) && KVPC_SDL_RESOLVE(CreateTexture) && KVPC_SDL_RESOLVE(DestroyTexture) &&
      KVPC_SDL_RESOLVE(UpdateTexture) && KVPC_SDL_RESOLVE(GetTicks) && KVPC_SDL_RESOLVE(WaitEventTimeout) &&
      KVPC_SDL_RESOLVE(PollEvent) && KVPC_SDL_RESOLVE(GetModState) && KVPC_SDL_RESOLVE(GetMouseState);
#undef KVPC_SDL_RESOLVE
  if (!complete) return make_error(error);  // the handle stays open: dlclose buys nothing here
  return &sdl;
}

}  // namespace

Result<const SdlLibrary*> SdlLibrary::load() {
  static const Result<const SdlLibrary*> loaded = load_once();
  return loaded;
}

}  // namespace kvpc
