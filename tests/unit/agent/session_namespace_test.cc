// The agent's session logic against REAL processes and a REAL utmp file in a private PID and
// mount namespace (root only; skipped with the reason otherwise). Inside, a fresh /proc shows
// only the namespace's processes, so the agent's /proc scan can find nothing of the host.
//
// Two sessions log in: alice (a leader plus a child in its session; both die of SIGHUP) and bob
// (a leader that ignores SIGHUP: SIGKILL after the grace period). Logoff through the real host
// services → both sessions' processes are gone with the expected signal, their utmp records
// are DEAD_PROCESS, PROGRESS came for each; a second Logoff → 0x80070520.
//
// The namespace work runs in a forked child (pid 1 of the new namespace) that reports failures
// as text on a pipe; the test asserts on that text.
#include <gtest/gtest.h>

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <string>

#include "tests/unit/agent/agent_rig.h"
#include "tests/support/die_with_parent.h"

namespace kvpc {
namespace {

using testing::AgentRig;
using testing::RecordingObserver;

std::string check_in_namespace() {
  std::string failures;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) failures += what + "\n";
  };
  if (getpid() != 1) return "not pid 1 in the new namespace";
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return std::string("cannot mount a private /proc: ") + strerror(errno);
  }
  // alice: leader + a child in the same session; default SIGHUP action.
  int ready[2];
  if (pipe(ready) != 0) return "pipe";
  const pid_t parent = getpid();
  pid_t alice = fork();
  if (alice == 0) {
    testing::die_with_parent(parent);
    setsid();
    if (fork() == 0) {
      char one = 1;
      if (write(ready[1], &one, 1) != 1) _exit(1);
      for (;;) pause();
    }
    for (;;) pause();
  }
  // bob: a leader that ignores SIGHUP.
  pid_t bob = fork();
  if (bob == 0) {
    testing::die_with_parent(parent);
    setsid();
    signal(SIGHUP, SIG_IGN);
    char one = 1;
    if (write(ready[1], &one, 1) != 1) _exit(1);
    for (;;) pause();
  }
  char bytes[2];
  if (read(ready[0], bytes, 1) != 1 || read(ready[0], bytes + 1, 1) != 1) return "sessions did not start";

  AgentRig rig;
  testing::append_utmp(rig.utmp, LOGIN_PROCESS, 0, "ttyS1", "LOGIN");
  testing::append_utmp(rig.utmp, USER_PROCESS, alice, "ttyS0", "alice");
  testing::append_utmp(rig.utmp, USER_PROCESS, bob, "pts/0", "bob");
  rig.connect();
  expect(rig.services.sessions() == std::vector<std::string>{"alice", "bob"}, "session list before logoff");
  agent::UtmpSessions probe(rig.utmp);
  expect(probe.session_members(alice).size() == 2, "alice's session has two processes");

  auto observer = std::make_shared<RecordingObserver>();
  expect(rig.services.begin_operation(GuestOperation::kLogoff, false, observer) == S_OK, "begin logoff");
  rig.pump();
  auto events = observer->events();
  std::vector<std::string> want = {"ack 2", "progress 1/2 alice", "progress 2/2 bob", "complete 0x00000000"};
  if (events != want) {
    std::string got;
    for (const auto& e : events) got += e + "; ";
    failures += "events: " + got + "\n";
  }
  int status = 0;
  expect(waitpid(alice, &status, WNOHANG) == alice && WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP,
         "alice's leader died of SIGHUP");
  expect(waitpid(bob, &status, WNOHANG) == bob && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
         "bob's leader (ignoring SIGHUP) died of SIGKILL");
  expect(probe.session_members(alice).empty(), "alice's child is gone too");
  auto records = testing::read_utmp(rig.utmp);
  expect(records.size() == 3 && records[0].ut_type == LOGIN_PROCESS && records[1].ut_type == DEAD_PROCESS &&
             records[2].ut_type == DEAD_PROCESS && records[1].ut_user[0] == 0,
         "utmp: both USER_PROCESS records are DEAD_PROCESS, the getty's LOGIN_PROCESS is untouched");
  expect(rig.services.sessions() == std::vector<std::string>{}, "the host saw the empty list");

  auto again = std::make_shared<RecordingObserver>();
  expect(rig.services.begin_operation(GuestOperation::kLogoff, false, again) == S_OK, "begin second logoff");
  rig.pump();
  expect(again->events() == std::vector<std::string>{"ack 0", "complete 0x80070520"},
         "second logoff: nobody logged on");
  unlink(rig.utmp.c_str());
  return failures;
}

TEST(LinuxAgentSessions, LogoffEndsRealSessionsInAPrivatePidNamespace) {
  if (geteuid() != 0) GTEST_SKIP() << "skipped: needs root for unshare(CLONE_NEWPID|CLONE_NEWNS)";
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t test_process = getpid();
  pid_t outer = fork();
  ASSERT_GE(outer, 0);
  if (outer == 0) {
    testing::die_with_parent(test_process);
    close(report[0]);
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) {
      std::string reason = std::string("SKIP unshare: ") + strerror(errno);
      if (write(report[1], reason.data(), reason.size()) < 0) _exit(3);
      _exit(2);
    }
    pid_t inner = fork();
    if (inner == 0) {
      agent::set_log_sink(agent::LogSink::kNone);
      std::string failures = check_in_namespace();
      if (!failures.empty() && write(report[1], failures.data(), failures.size()) < 0) _exit(3);
      _exit(failures.empty() ? 0 : 1);
    }
    int status = 0;
    waitpid(inner, &status, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 4);
  }
  close(report[1]);
  std::string text;
  char buffer[512];
  ssize_t n;
  while ((n = read(report[0], buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  close(report[0]);
  int status = 0;
  ASSERT_EQ(waitpid(outer, &status, 0), outer);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "skipped: " << text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  EXPECT_EQ(text, "");
}

}  // namespace
}  // namespace kvpc
