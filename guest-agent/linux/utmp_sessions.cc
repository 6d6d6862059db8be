#include "guest-agent/linux/utmp_sessions.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>
#include <utmp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "guest-agent/linux/log.h"
#include "guest-agent/linux/wire.h"

namespace kvpc::agent {
namespace {

std::string field(const char* text, size_t size) { return std::string(text, strnlen(text, size)); }

// State and session id of a process from /proc/<pid>/stat ("pid (comm) S ppid pgrp session ...").
// The comm may hold spaces and parentheses: parse after the last ')'.
bool read_stat(const std::string& proc_root, int pid, char* state, int* sid) {
  std::ifstream in(proc_root + "/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  int ppid = 0, pgrp = 0;
  return sscanf(text.c_str() + close + 1, " %c %d %d %d", state, &ppid, &pgrp, sid) == 4;
}

}  // namespace

bool UtmpSessions::alive(int pid) const {
  if (pid <= 0) return false;
  char state = 0;
  int sid = 0;
  if (!read_stat(proc_root_, pid, &state, &sid)) return false;
  return state != 'Z' && state != 'X';
}

std::vector<int> UtmpSessions::session_members(int sid) const {
  std::vector<int> pids;
  DIR* dir = opendir(proc_root_.c_str());
  if (!dir) return pids;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long pid = strtol(entry->d_name, &end, 10);
    if (*end != 0 || pid <= 0) continue;
    char state = 0;
    int process_sid = 0;
    if (read_stat(proc_root_, static_cast<int>(pid), &state, &process_sid) && process_sid == sid &&
        state != 'Z' && state != 'X') {
      pids.push_back(static_cast<int>(pid));
    }
  }
  closedir(dir);
  return pids;
}

std::vector<Session> UtmpSessions::list() const {
  std::vector<Session> sessions;
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sessions;
  struct utmp record {};
  while (read(fd, &record, sizeof record) == static_cast<ssize_t>(sizeof record)) {
    if (record.ut_type != USER_PROCESS || record.ut_user[0] == 0) continue;
    // A record whose shell is gone (crash, no logout written) is not a session any more.
    if (!alive(record.ut_pid)) continue;
    sessions.push_back(Session{field(record.ut_user, sizeof record.ut_user),
                               field(record.ut_line, sizeof record.ut_line), record.ut_pid, false});
  }
  close(fd);
  return sessions;
}

uint32_t UtmpSessions::end(const Session& session) const {
  // The whole session only when the record's process leads it (a login shell does: getty and
  // login call setsid). Otherwise only that process: a stale or forged record must never make
  // the agent signal someone else's session, let alone its own or init's.
  std::vector<int> members;
  int sid = getsid(session.leader_pid);
  if (sid == session.leader_pid && sid != getsid(0)) {
    members = session_members(sid);
  } else if (alive(session.leader_pid)) {
    log_line("logoff: %s: pid %d does not lead a session of its own: signalling it alone", session.name.c_str(),
             session.leader_pid);
    members.push_back(session.leader_pid);
  }
  std::erase_if(members, [](int pid) { return pid <= 1 || pid == getpid(); });
  for (int pid : members) {
    kill(pid, SIGHUP);
    kill(pid, SIGCONT);  // a stopped job must run to see its SIGHUP
  }
  auto wait_empty = [&](std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      bool any = false;
      for (int pid : members) any = any || alive(pid);
      if (!any) return true;
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  uint32_t result = wire::kSOk;
  if (!wait_empty(grace_)) {
    for (int pid : members) {
      if (alive(pid)) {
        log_line("logoff: %s: pid %d ignored SIGHUP, sending SIGKILL", session.name.c_str(), pid);
        kill(pid, SIGKILL);
      }
    }
    if (!wait_empty(std::chrono::milliseconds(2000))) result = wire::kEFail;
  }
  mark_dead(session);
  return result;
}

// Rewrites the session's USER_PROCESS record as DEAD_PROCESS: user and host cleared, time now.
void UtmpSessions::mark_dead(const Session& session) const {
  int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  fcntl(fd, F_SETLKW, &lock);
  struct utmp record {};
  off_t offset = 0;
  while (pread(fd, &record, sizeof record, offset) == static_cast<ssize_t>(sizeof record)) {
    if (record.ut_type == USER_PROCESS && record.ut_pid == session.leader_pid &&
        field(record.ut_line, sizeof record.ut_line) == session.id) {
      record.ut_type = DEAD_PROCESS;
      std::memset(record.ut_user, 0, sizeof record.ut_user);
      std::memset(record.ut_host, 0, sizeof record.ut_host);
      struct timeval now {};
      gettimeofday(&now, nullptr);
      record.ut_tv.tv_sec = static_cast<int32_t>(now.tv_sec);
      record.ut_tv.tv_usec = static_cast<int32_t>(now.tv_usec);
      if (pwrite(fd, &record, sizeof record, offset) != static_cast<ssize_t>(sizeof record)) {
        log_line("logoff: cannot update %s: %s", path_.c_str(), strerror(errno));
      }
      break;
    }
    offset += static_cast<off_t>(sizeof record);
  }
  lock.l_type = F_UNLCK;
  fcntl(fd, F_SETLK, &lock);
  close(fd);
}

}  // namespace kvpc::agent
