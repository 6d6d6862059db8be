// Children that tests start (kvpc, gdb, dbus-daemon, placeholder session processes) must not
// outlive the test process: a ctest timeout SIGKILLs the test, and a child left running would
// hold its runtime folder, its image lock and a CPU. Call die_with_parent(parent) in the child
// right after fork(), with `parent` = getpid() taken before the fork.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, so fork from a thread that
// outlives the child (the test's own thread, or one that waits for the child). The getppid()
// check closes the race where the parent died between fork() and prctl(): the signal would
// never come, so the child leaves at once.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace kvpc::testing {

inline void die_with_parent(pid_t parent) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ::_exit(125);
  if (::getppid() != parent) ::_exit(125);
}

}  // namespace kvpc::testing
