// Login sessions from a utmp file (USER_PROCESS records whose process is alive), and ending
// one: SIGHUP (+ SIGCONT) to every process of the leader's session, SIGKILL to what is left
// after the grace period, then the record becomes DEAD_PROCESS (as login/getty would write it).
//
// Used where systemd-logind does not run (busybox images); docs/linux-agent.md says why and
// what newer distributions without utmp get. The file is read and written as raw records
// under an fcntl lock, so any path works (tests use a private one).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "guest-agent/linux/system.h"

namespace kvpc::agent {

class UtmpSessions {
 public:
  explicit UtmpSessions(std::string path, std::string proc_root = "/proc",
                        std::chrono::milliseconds grace = std::chrono::milliseconds(3000))
      : path_(std::move(path)), proc_root_(std::move(proc_root)), grace_(grace) {}

  std::vector<Session> list() const;
  // S_OK, or E_FAIL when a process of the session survived SIGKILL.
  uint32_t end(const Session& session) const;

  // Processes whose session id is `sid` (from <proc_root>/<pid>/stat), zombies excluded.
  std::vector<int> session_members(int sid) const;

 private:
  bool alive(int pid) const;
  void mark_dead(const Session& session) const;

  std::string path_;
  std::string proc_root_;
  std::chrono::milliseconds grace_;
};

}  // namespace kvpc::agent
