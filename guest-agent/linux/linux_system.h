// The real System for a Linux guest: os-info from os_info.h, sessions from systemd-logind
// where it runs (logind_sessions.h: /run/systemd/seats exists and logind answers) else utmp
// (utmp_sessions.h), power through systemd or reboot(2), the clock from time sync.
#pragma once

#include <chrono>
#include <string>

#include "guest-agent/linux/logind_sessions.h"
#include "guest-agent/linux/os_info.h"
#include "guest-agent/linux/system.h"
#include "guest-agent/linux/utmp_sessions.h"

namespace kvpc::agent {

struct LinuxSystemOptions {
  OsInfoSources os_info;
  std::string utmp_path = "/var/run/utmp";
  std::string system_bus = "/run/dbus/system_bus_socket";
  std::chrono::milliseconds logoff_grace{3000};
  // Set CLOCK_REALTIME from the host's TIME when they differ by more than this (0 = never).
  std::chrono::milliseconds clock_step_threshold{2000};
  // Non-forced shutdown/restart without systemd: SIGTERM to everything, then this long before
  // sync + reboot(2).
  std::chrono::milliseconds shutdown_grace{5000};
};

class LinuxSystem final : public System {
 public:
  explicit LinuxSystem(LinuxSystemOptions options);

  std::vector<std::pair<std::string, std::string>> os_info() override;
  std::vector<Session> sessions() override;
  uint32_t end_session(const Session& session) override;
  void shutdown(bool forced) override;
  void restart(bool forced) override;
  void host_time(uint64_t unix_ns) override;

 private:
  void power(bool restart, bool forced);

  LinuxSystemOptions options_;
  UtmpSessions utmp_;
  LogindSessions logind_;
};

}  // namespace kvpc::agent
