#include "guest-agent/linux/logind_sessions.h"

#include <algorithm>
#include <thread>

#include "guest-agent/linux/dbus_client.h"
#include "guest-agent/linux/log.h"
#include "guest-agent/linux/wire.h"

namespace kvpc::agent {
namespace {
constexpr const char* kLogind = "org.freedesktop.login1";
constexpr const char* kManagerPath = "/org/freedesktop/login1";
constexpr const char* kManager = "org.freedesktop.login1.Manager";
}  // namespace

std::optional<std::vector<Session>> LogindSessions::list() const {
  std::string error;
  auto bus = DbusClient::connect(bus_path_, &error);
  if (!bus) return std::nullopt;
  auto reply = bus->call(kLogind, kManagerPath, kManager, "ListSessions", {});
  if (!reply || reply->error || reply->signature != "a(susso)") return std::nullopt;
  auto sessions = decode_session_list(reply->body);
  if (!sessions) return std::nullopt;
  std::vector<Session> out;
  for (const auto& s : *sessions) {
    if (s.user.empty()) continue;
    out.push_back(Session{s.user, s.id, 0, true});
  }
  return out;
}

uint32_t LogindSessions::end(const Session& session) const {
  std::string error;
  auto bus = DbusClient::connect(bus_path_, &error);
  if (!bus) {
    log_line("logoff: %s: %s", session.name.c_str(), error.c_str());
    return wire::kEFail;
  }
  auto reply = bus->call(kLogind, kManagerPath, kManager, "TerminateSession", {session.id});
  if (!reply || reply->error) {
    log_line("logoff: TerminateSession %s failed: %s", session.id.c_str(),
             reply ? reply->error_name.c_str() : "no reply");
    return wire::kEFail;
  }
  auto until = std::chrono::steady_clock::now() + grace_;
  while (std::chrono::steady_clock::now() < until) {
    auto now = list();
    if (!now || std::none_of(now->begin(), now->end(), [&](const Session& s) { return s.id == session.id; })) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return wire::kSOk;
}

}  // namespace kvpc::agent
