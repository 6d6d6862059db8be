// The agent's log: one line per event, to stderr by default or to syslog (/dev/log) /
// the kernel log (/dev/kmsg) when running as a service (main.cc picks).
#pragma once

#include <cstdarg>

namespace kvpc::agent {

enum class LogSink { kStderr, kSyslog, kKmsg, kNone };

void set_log_sink(LogSink sink);
void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace kvpc::agent
