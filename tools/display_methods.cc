// The session's screen: the `screenshot` control-socket method (the guest's screen as a PNG,
// base64 in the reply: the client writes the file, so the VM never writes files for a
// remote caller) and, with --display sdl, the window (the kvpc-display process). Both share one SessionDisplay,
// hence one reader of the framebuffer's dirty log.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "display/png_writer.h"
#include "display/display_process.h"
#include "tools/control_client.h"
#include "tools/session_display.h"
#include "tools/vm_session.h"

namespace kvpc {
namespace {

std::string base64(const std::vector<uint8_t>& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = uint32_t{bytes[i]} << 16 | (i + 1 < bytes.size() ? uint32_t{bytes[i + 1]} << 8 : 0) |
                       (i + 2 < bytes.size() ? bytes[i + 2] : 0);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += i + 1 < bytes.size() ? kAlphabet[n >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// The screen is as private as the guest's console: its owner, root and the users granted
// the VM's API (--allow-user) may read it.
bool may_see_screen(const VmSession& session, const PeerCredentials& peer) {
  if (peer.uid == getuid() || peer.uid == 0) return true;
  const auto& uids = session.options().granted_uids;
  return std::find(uids.begin(), uids.end(), peer.uid) != uids.end();
}

// PNGs above this are refused rather than overflowing the connection's output buffer
// (ControlServer::kMaxPendingOutput, 1 MiB, holds the base64 text).
constexpr size_t kMaxPngBytes = 700 * 1024;

// Closing the window the first time: the session's Shutdown path (the integration verb, as
// `kvpc shutdown NAME` sends it). A guest without an agent cannot be asked: stop it.
void ask_guest_to_shut_down(VmSession& session) {
  session.run_detached([&session] {
    auto client = ControlClient::connect_to_vm(session.config().name);
    bool accepted = false;
    if (client) {
      auto response = client->call("shutdown", nlohmann::json::object(), std::chrono::seconds(10));
      if (response && response->value("ok", false)) {
        const std::string hresult = (*response)["result"].value("hresult", "0x80004005");
        accepted = hresult == "0x00000000";
      }
    }
    if (!accepted) {
      spdlog::info("{}: window closed and the guest cannot be asked to shut down: stopping it", session.config().name);
      session.request_stop("the display window was closed");
    }
  });
}

void open_window(VmSession& session, const std::shared_ptr<SessionDisplay>& display) {
  DisplayProcess::Callbacks callbacks;
  callbacks.refresh = [display](uint64_t since, Frame& frame) { return display->refresh(since, frame); };
  callbacks.key = [&session](uint16_t usage, bool pressed) {
    if (auto machine = session.machine()) machine->board().i8042().key(usage, pressed);
  };
  callbacks.mouse = [&session](int dx, int dy, uint8_t buttons) {
    if (auto machine = session.machine()) machine->board().i8042().mouse_motion(dx, dy, buttons);
  };
  callbacks.on_close = [&session](bool forced) {
    if (forced) session.request_stop("the display window was closed twice");
    else ask_guest_to_shut_down(session);
  };
  auto window = DisplayProcess::open(session.config().name, std::move(callbacks));
  if (!window) {
    spdlog::error("{} (running headless)", window.error().message);
    return;
  }
  std::shared_ptr<DisplayProcess> shared(std::move(window).value());
  session.on_state_change([shared](SessionState state) {
    // The display's pump thread only ever waits for the session's machine mutex, never for
    // the main thread that reports kTurnedOff: joining it here cannot deadlock. stop() also
    // ends and reaps the kvpc-display process.
    if (state == SessionState::kTurnedOff) shared->stop();
    else {
      std::string name = session_state_name(state);  // "Running" -> "running" for the title
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      shared->set_state(name);
    }
  });
}

struct Registration {
  Registration() {
    VmSession::register_extension([](VmSession& session) {
      auto display = std::make_shared<SessionDisplay>(session);
      if (session.config().display == "sdl") open_window(session, display);
      session.server().add_handler("screenshot", [&session, display](const ControlServer::Request& request,
                                                                   ControlServer::Reply reply) {
        if (!may_see_screen(session, request.peer)) {
          reply(ControlServer::error(request.id, "access_denied", "only the VM's owner, root and granted users see its screen"));
          return;
        }
        // Rendering and PNG encoding take milliseconds: keep them off the event loop.
        session.run_detached([&session, display, request, reply] {
          Frame frame;
          auto update = display->refresh(0, frame);
          if (!update) {
            reply(ControlServer::error(request.id, "not_running", update.error().message));
            return;
          }
          auto png = encode_png(frame);
          if (!png) {
            reply(ControlServer::error(request.id, "screenshot_failed", png.error().message));
            return;
          }
          if (png->size() > kMaxPngBytes) {
            reply(ControlServer::error(request.id, "too_large", "the screenshot's PNG is larger than 700 KiB"));
            return;
          }
          nlohmann::json result = {{"vm", session.config().name}, {"method", "screenshot"},
                                   {"width", update->width},      {"height", update->height},
                                   {"mode", update->mode},        {"png_base64", base64(*png)}};
          reply(ControlServer::ok(request.id, result));
        });
      });
    });
  }
};
const Registration registration;

}  // namespace
}  // namespace kvpc
