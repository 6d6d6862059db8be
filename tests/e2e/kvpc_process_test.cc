// The test harness itself: a kvpc started through KvpcProcess dies with the test process, so a
// ctest timeout (SIGKILL of the test) never leaves a VM running.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;

// Alive and not a zombie (a zombie has already run its exit path).
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= text.size()) return false;
  const char state = text[close_paren + 2];
  return state != 'Z' && state != 'X';
}

TEST(KvpcProcess, KvpcDiesWhenTheTestProcessIsKilled) {
  const std::string runtime = testing::make_runtime_dir();
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  // A stand-in for the test process: starts a kvpc that would run forever, says its pid, and
  // is SIGKILLed as ctest kills a test that times out.
  pid_t stand_in = fork();
  ASSERT_GE(stand_in, 0);
  if (stand_in == 0) {
    close(report[0]);
    testing::KvpcProcess vm({"run", "--accel", "emu", "--name", "orphan", "--mem", "32M"}, runtime);
    const pid_t kvpc = vm.pid();
    if (write(report[1], &kvpc, sizeof kvpc) != sizeof kvpc) _exit(1);
    if (!vm.wait_for_output("agent: ready", 30s)) _exit(3);  // it is really running before we die
    raise(SIGKILL);
  }
  close(report[1]);
  pid_t kvpc = -1;
  ASSERT_EQ(read(report[0], &kvpc, sizeof kvpc), static_cast<ssize_t>(sizeof kvpc));
  close(report[0]);
  int status = 0;
  ASSERT_EQ(waitpid(stand_in, &status, 0), stand_in);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the stand-in's kvpc never got ready";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (running(kvpc) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  const bool survived = running(kvpc);
  if (survived) kill(kvpc, SIGKILL);
  EXPECT_FALSE(survived) << "kvpc " << kvpc << " outlived the process that started it";
  std::filesystem::remove_all(runtime);
}

}  // namespace
}  // namespace kvpc
