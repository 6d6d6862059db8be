// The guest OS side of the services: identity (os-info), login sessions, power.
//
// The protocol engine (agent.h) calls these from its one thread; implementations may block
// (ending a session waits up to its grace period). LinuxSystem (linux_system.h) is the real one.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kvpc::agent {

struct Session {
  std::string name;    // the user name, as reported to the host (≤ 31 bytes on the wire)
  std::string id;      // backend id: the utmp line ("pts/0", "ttyS0") or the logind session id
  int leader_pid = 0;  // the session leader (the login shell), 0 if unknown
  bool from_logind = false;  // listed by systemd-logind (else by utmp)
};

class System {
 public:
  virtual ~System() = default;
  // key=value pairs, in the order they go on the wire (docs/integration-protocol.md section 8).
  virtual std::vector<std::pair<std::string, std::string>> os_info() = 0;
  // Current login sessions, in logon order.
  virtual std::vector<Session> sessions() = 0;
  // Ends one session (SIGHUP, then SIGKILL after the grace period). S_OK or an HRESULT.
  virtual uint32_t end_session(const Session& session) = 0;
  // Power actions, started after the COMPLETE notification has reached the host. They return
  // only if the action could not be started (the host then sees the VM keep running).
  virtual void shutdown(bool forced) = 0;
  virtual void restart(bool forced) = 0;
  // The host's time (Unix ns) from a TIME notification.
  virtual void host_time(uint64_t unix_ns) = 0;
};

}  // namespace kvpc::agent
