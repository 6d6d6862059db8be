#include "guest-agent/linux/linux_system.h"

#include <signal.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "guest-agent/linux/log.h"

namespace kvpc::agent {

LinuxSystem::LinuxSystem(LinuxSystemOptions options)
    : options_(std::move(options)),
      utmp_(options_.utmp_path, "/proc", options_.logoff_grace),
      logind_(options_.system_bus, options_.logoff_grace) {}

std::vector<std::pair<std::string, std::string>> LinuxSystem::os_info() { return linux_os_info(options_.os_info); }

// logind where it runs (newer distributions write no utmp); utmp otherwise (minimal images
// have no logind). /run/systemd/seats exists exactly when logind has started.
std::vector<Session> LinuxSystem::sessions() {
  struct stat st {};
  if (stat("/run/systemd/seats", &st) == 0) {
    if (auto sessions = logind_.list()) return *sessions;
  }
  return utmp_.list();
}

uint32_t LinuxSystem::end_session(const Session& session) {
  return session.from_logind ? logind_.end(session) : utmp_.end(session);
}

void LinuxSystem::shutdown(bool forced) { power(false, forced); }
void LinuxSystem::restart(bool forced) { power(true, forced); }

// forced: sync and reboot(2) at once (no process is asked). Not forced: where systemd runs,
// `systemctl poweroff|reboot` (services stop in order); elsewhere SIGTERM to every process,
// a grace period, then sync + reboot(2).
void LinuxSystem::power(bool restart, bool forced) {
  int command = restart ? RB_AUTOBOOT : RB_POWER_OFF;
  if (!forced) {
    struct stat st {};
    if (stat("/run/systemd/system", &st) == 0) {
      pid_t child = fork();
      if (child == 0) {
        execl("/bin/systemctl", "systemctl", restart ? "reboot" : "poweroff", static_cast<char*>(nullptr));
        _exit(127);
      }
      int status = 0;
      if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
      log_line("systemctl failed: falling back to reboot(2)");
    } else {
      kill(-1, SIGTERM);  // everyone but init and us
      std::this_thread::sleep_for(options_.shutdown_grace);
    }
  }
  sync();
  if (reboot(command) != 0) log_line("reboot(2) failed: %s", strerror(errno));
}

void LinuxSystem::host_time(uint64_t unix_ns) {
  if (options_.clock_step_threshold.count() == 0) return;
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t ours = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  int64_t diff = static_cast<int64_t>(unix_ns) - ours;
  if (diff < 0) diff = -diff;
  if (diff < std::chrono::duration_cast<std::chrono::nanoseconds>(options_.clock_step_threshold).count()) return;
  struct timespec host {static_cast<time_t>(unix_ns / 1000000000), static_cast<long>(unix_ns % 1000000000)};
  if (clock_settime(CLOCK_REALTIME, &host) == 0) {
    log_line("clock set from the host (was %lld ms off)", static_cast<long long>(diff / 1000000));
  }
}

}  // namespace kvpc::agent
