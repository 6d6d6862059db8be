// Login sessions from systemd-logind over the system bus (dbus_client.h): ListSessions, and
// TerminateSession to end one (logind stops the session's scope: SIGTERM, then SIGKILL after
// its own timeout). Where logind does not answer, LinuxSystem uses utmp (utmp_sessions.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "guest-agent/linux/system.h"

namespace kvpc::agent {

class LogindSessions {
 public:
  explicit LogindSessions(std::string bus_path = "/run/dbus/system_bus_socket",
                          std::chrono::milliseconds grace = std::chrono::milliseconds(3000))
      : bus_path_(std::move(bus_path)), grace_(grace) {}

  // The sessions with a user (logon order as logind lists them), or nullopt when the bus or
  // logind does not answer.
  std::optional<std::vector<Session>> list() const;
  // TerminateSession, then up to the grace period for the session to disappear.
  // S_OK, or E_FAIL when logind refused (the log line names its error).
  uint32_t end(const Session& session) const;

 private:
  std::string bus_path_;
  std::chrono::milliseconds grace_;
};

}  // namespace kvpc::agent
