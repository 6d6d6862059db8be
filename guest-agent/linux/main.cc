// kvpc-agent: the Linux guest agent for kvpc's integration device (docs/linux-agent.md).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "guest-agent/linux/agent.h"
#include "guest-agent/linux/linux_system.h"
#include "guest-agent/linux/log.h"
#include "guest-agent/linux/pci_device.h"
#include "guest-agent/linux/ring_memory.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

constexpr const char* kUsage =
    "usage: kvpc-agent [options]\n"
    "  --log stderr|syslog|kmsg   where log lines go (default stderr)\n"
    "  --poll-ms N                interrupt-less poll interval and wait bound (default 50, 1..1000)\n"
    "  --no-uio                   do not bind uio_pci_generic: always poll\n"
    "  --ring-pages N             ring area size in 4 KiB pages (default 16, 3..64)\n"
    "  --utmp PATH                utmp file with the login sessions (default /var/run/utmp)\n"
    "  --os-release PATH          os-release file (default /etc/os-release)\n"
    "  --logoff-grace-ms N        SIGHUP -> SIGKILL grace per session (default 3000)\n"
    "  --no-set-clock             keep the guest clock even when the host's time differs\n"
    "  --wait-device-s N          wait up to N s for the PCI function to appear (default 10)\n"
    "  --help\n";

bool parse_uint(const char* text, unsigned long min, unsigned long max, unsigned long* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != 0 || value < min || value > max) return false;
  *out = value;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kvpc::agent;
  LinuxSystemOptions system_options;
  unsigned long poll_ms = 50, ring_pages = 16, wait_device_s = 10;
  bool use_uio = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    unsigned long number = 0;
    auto need = [&](bool ok) {
      if (!ok) {
        fprintf(stderr, "kvpc-agent: bad or missing value for %s\n%s", arg.c_str(), kUsage);
        exit(2);
      }
      ++i;
    };
    if (arg == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--log") {
      need(value != nullptr);
      std::string sink = value;
      if (sink == "syslog") set_log_sink(LogSink::kSyslog);
      else if (sink == "kmsg") set_log_sink(LogSink::kKmsg);
      else if (sink != "stderr") need(false);
    } else if (arg == "--poll-ms") {
      need(value && parse_uint(value, 1, 1000, &poll_ms));
    } else if (arg == "--no-uio") {
      use_uio = false;
    } else if (arg == "--ring-pages") {
      need(value && parse_uint(value, 3, 64, &ring_pages));
    } else if (arg == "--utmp") {
      need(value != nullptr);
      system_options.utmp_path = value;
    } else if (arg == "--os-release") {
      need(value != nullptr);
      system_options.os_info.os_release = value;
    } else if (arg == "--logoff-grace-ms") {
      need(value && parse_uint(value, 0, 600000, &number));
      system_options.logoff_grace = std::chrono::milliseconds(number);
    } else if (arg == "--no-set-clock") {
      system_options.clock_step_threshold = std::chrono::milliseconds(0);
    } else if (arg == "--wait-device-s") {
      need(value && parse_uint(value, 0, 3600, &wait_device_s));
    } else {
      fprintf(stderr, "kvpc-agent: unknown option %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }

  // The PCI function may be enumerated after an early-started agent: wait a bounded time.
  std::string sysfs_dir;
  for (unsigned long waited = 0;; ++waited) {
    sysfs_dir = SysfsPciDevice::find();
    if (!sysfs_dir.empty() || waited >= wait_device_s * 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (sysfs_dir.empty()) {
    log_line("no kvpc integration device (PCI 6b76:4943): not running under kvpc");
    return 1;
  }
  std::string error;
  auto device = SysfsPciDevice::open(sysfs_dir, use_uio, &error);
  if (!device) {
    log_line("%s", error.c_str());
    return 1;
  }
  std::string how;
  auto ring = allocate_ring_memory(static_cast<uint32_t>(ring_pages), &how, &error);
  if (!ring) {
    log_line("ring memory: %s", error.c_str());
    return 1;
  }
  log_line("device %s, ring at 0x%llx (%lu pages, %s), %s", sysfs_dir.c_str(),
           static_cast<unsigned long long>(ring->bus_address), ring_pages, how.c_str(),
           device->has_interrupt() ? "interrupt-driven" : "polling");

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  LinuxSystem system(system_options);
  Agent agent(*device, *ring, system);
  agent.run(std::chrono::milliseconds(poll_ms), g_stop);
  // Detach: the host ends whatever was in flight at once instead of waiting for a timeout.
  device->write32(kvpc::agent::wire::kRegControl, kvpc::agent::wire::kControlReset);
  log_line("stopped");
  return 0;
}
