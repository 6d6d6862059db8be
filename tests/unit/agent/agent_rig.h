// AgentRig: the Linux agent's protocol engine (guest-agent/linux/agent.h) against kvpc's REAL
// host side: IntegrationDevice (BAR0 registers, ATTACH checks, ISR) and HostServices, with the
// ring in a real GuestMemory. The test transport is in-process: TestDevice forwards register
// accesses to the device's BAR0 IoDevice exactly as the guest's port I/O would, and the ring
// is a slice of guest RAM at a guest-physical address, so the agent's ring code runs against
// the host's (integration/ring.*). pump() alternates host processing and agent service.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <utmp.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "guest-agent/linux/agent.h"
#include "guest-agent/linux/log.h"
#include "guest-agent/linux/os_info.h"
#include "guest-agent/linux/utmp_sessions.h"
#include "tests/unit/integration/fake_guest.h"
#include "tests/support/die_with_parent.h"

namespace kvpc::testing {

class TestDevice final : public agent::Device {
 public:
  explicit TestDevice(IoDevice& bar0) : bar0_(bar0) {}
  uint32_t read32(uint32_t offset) override {
    uint8_t data[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    bar0_.read(offset, data);
    uint32_t value;
    std::memcpy(&value, data, 4);
    return value;
  }
  void write32(uint32_t offset, uint32_t value) override {
    uint8_t data[4];
    std::memcpy(data, &value, 4);
    bar0_.write(offset, data);
  }
  void wait(std::chrono::milliseconds) override {}

 private:
  IoDevice& bar0_;
};

// A System whose sessions come from a real utmp file (UtmpSessions) and whose power actions
// are recorded instead of done.
class RecordingSystem final : public agent::System {
 public:
  RecordingSystem(std::string utmp_path, std::string os_release, std::string proc_root = "/proc",
                  std::chrono::milliseconds grace = std::chrono::milliseconds(500))
      : utmp_(std::move(utmp_path), std::move(proc_root), grace), os_release_(std::move(os_release)) {}

  std::vector<std::pair<std::string, std::string>> os_info() override {
    return agent::linux_os_info({.os_release = os_release_, .hostname = "linux-guest", .kernel_release = "6.1.0-13-amd64"});
  }
  std::vector<agent::Session> sessions() override { return utmp_.list(); }
  uint32_t end_session(const agent::Session& session) override {
    ended.push_back(session.name);
    return utmp_.end(session);
  }
  void shutdown(bool forced) override { power.push_back(forced ? "shutdown forced" : "shutdown"); }
  void restart(bool forced) override { power.push_back(forced ? "restart forced" : "restart"); }
  void host_time(uint64_t unix_ns) override { times.push_back(unix_ns); }

  std::vector<std::string> ended;
  std::vector<std::string> power;
  std::vector<uint64_t> times;

 private:
  agent::UtmpSessions utmp_;
  std::string os_release_;
};

// Writes utmp records (the way login does) to a private file.
inline void append_utmp(const std::string& path, short type, int pid, const std::string& line, const std::string& user) {
  struct utmp record {};
  record.ut_type = type;
  record.ut_pid = pid;
  std::strncpy(record.ut_line, line.c_str(), sizeof record.ut_line);
  std::strncpy(record.ut_user, user.c_str(), sizeof record.ut_user);
  std::strncpy(record.ut_host, "ttyS0", sizeof record.ut_host);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (::write(fd, &record, sizeof record) != static_cast<ssize_t>(sizeof record)) record.ut_type = 0;
  ::close(fd);
}

inline std::vector<struct utmp> read_utmp(const std::string& path) {
  std::vector<struct utmp> records;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return records;
  struct utmp record {};
  while (::read(fd, &record, sizeof record) == static_cast<ssize_t>(sizeof record)) records.push_back(record);
  ::close(fd);
  return records;
}

inline std::string write_temp_file(const std::string& text) {
  char path[] = "/tmp/kvpc-agent-test-XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) {
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) path[0] = 0;
    ::close(fd);
  }
  return path;
}

// A login session of real processes: a child that became the leader of its own session (the
// default SIGHUP action kills it). Returns once setsid() has happened, so the session exists
// before any utmp record names it.
inline pid_t spawn_session() {
  int ready[2];
  if (pipe(ready) != 0) return -1;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    die_with_parent(parent);
    setsid();
    char one = 1;
    if (::write(ready[1], &one, 1) != 1) _exit(1);
    for (;;) pause();
  }
  char byte = 0;
  if (pid > 0 && ::read(ready[0], &byte, 1) != 1) pid = -1;
  ::close(ready[0]);
  ::close(ready[1]);
  return pid;
}

inline constexpr const char* kDebianOsRelease =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
    "NAME=\"Debian GNU/Linux\"\n"
    "VERSION_ID=\"12\"\n"
    "VERSION=\"12 (bookworm)\"\n"
    "ID=debian\n";

struct AgentRig {
  static constexpr uint64_t kRingGpa = 0x200000;
  static constexpr uint32_t kRingPages = 16;

  explicit AgentRig(std::string utmp_path = write_temp_file(""), std::string proc_root = "/proc",
                    agent::AgentOptions options = test_options())
      : memory(make_memory()),
        device(memory, irq),
        services(device, with_clock()),
        bar0(*device.bar_device(0)),
        system(utmp_path, write_temp_file(kDebianOsRelease), std::move(proc_root)),
        agent(bar0, ring_at(kRingGpa), system, std::move(options)),
        utmp(std::move(utmp_path)) {
    (void)device.init();
  }

  static agent::AgentOptions test_options() {
    agent::AgentOptions options;
    options.drain_timeout = std::chrono::milliseconds(0);  // the host is pumped by this thread
    return options;
  }

  HostServicesOptions with_clock() {
    HostServicesOptions options;
    options.clock = [this] { return clock.now(); };
    options.unix_time_ns = [] { return uint64_t{1700000000} * 1000000000; };
    return options;
  }

  agent::RingMemory ring_at(uint64_t gpa) {
    auto area = memory.span(gpa, kRingPages * proto::kPageSize);
    return agent::RingMemory{area->data(), gpa, kRingPages};
  }

  void pump(int rounds = 16) {
    for (int i = 0; i < rounds; ++i) {
      services.process();
      while (agent.service()) {
      }
    }
  }

  void connect() {
    agent.start();
    pump();
  }

  FakeClock clock;
  GuestMemory memory;
  RecordingIrq irq;
  IntegrationDevice device;
  HostServices services;
  TestDevice bar0;
  RecordingSystem system;
  agent::Agent agent;
  std::string utmp;
};

}  // namespace kvpc::testing
