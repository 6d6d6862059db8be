#include "guest-agent/linux/log.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>

namespace kvpc::agent {
namespace {
LogSink g_sink = LogSink::kStderr;
int g_kmsg = -1;
}  // namespace

void set_log_sink(LogSink sink) {
  g_sink = sink;
  if (sink == LogSink::kSyslog) openlog("kvpc-agent", LOG_PID | LOG_CONS, LOG_DAEMON);
  if (sink == LogSink::kKmsg) {
    g_kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (g_kmsg < 0) g_sink = LogSink::kStderr;  // no kmsg (container): stderr still reaches someone
  }
}

void log_line(const char* format, ...) {
  if (g_sink == LogSink::kNone) return;
  char line[512];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof line, format, args);
  va_end(args);
  switch (g_sink) {
    case LogSink::kSyslog:
      syslog(LOG_INFO, "%s", line);
      break;
    case LogSink::kKmsg:
      dprintf(g_kmsg, "<6>kvpc-agent: %s\n", line);
      break;
    default:
      fprintf(stderr, "kvpc-agent: %s\n", line);
      break;
  }
}

}  // namespace kvpc::agent
