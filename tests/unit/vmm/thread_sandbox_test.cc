// The per-thread seccomp filters (vmm/thread_sandbox.h). Each case runs in a forked child, since
// a filter, once on a thread, stays there; the parent checks the child's status and stderr.
#include "vmm/thread_sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace kvpc {
namespace {

constexpr int kViolationStatus = 12;

struct ChildResult {
  int status = -1;  // exit status, or 128 + signal
  std::string err;
};

// Forks; the child prepares the sandbox, runs `body` on a new thread entered as `role`, and
// exits 0 if body returns.
ChildResult run_in_sandboxed_thread(ThreadRole role, const std::function<void()>& body) {
  int err_pipe[2];
  EXPECT_EQ(pipe(err_pipe), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err_pipe[1], STDERR_FILENO);
    close(err_pipe[0]);
    if (!prepare_thread_sandbox(kViolationStatus)) _exit(90);
    std::thread thread([&] {
      if (!enter_thread_sandbox(role, role == ThreadRole::kVcpu ? "vcpu0" : "event-loop")) _exit(91);
      body();
    });
    thread.join();
    _exit(0);
  }
  close(err_pipe[1]);
  ChildResult result;
  char buffer[1024];
  ssize_t n;
  while ((n = read(err_pipe[0], buffer, sizeof(buffer))) > 0) result.err.append(buffer, static_cast<size_t>(n));
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

TEST(ThreadSandboxTest, VcpuThreadMayWriteAndLock) {
  auto result = run_in_sandboxed_thread(ThreadRole::kVcpu, [] {
    const char text[] = "allowed\n";
    [[maybe_unused]] auto n = write(STDERR_FILENO, text, sizeof(text) - 1);
    std::mutex mutex;
    std::lock_guard lock(mutex);
    auto* buffer = new char[1 << 20];  // malloc's mmap path
    buffer[0] = 1;
    delete[] buffer;
  });
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "allowed\n");
}

TEST(ThreadSandboxTest, VcpuThreadOpeningAFileIsStoppedWithTheCallNamed) {
  auto result = run_in_sandboxed_thread(ThreadRole::kVcpu, [] { open("/etc/hostname", O_RDONLY); });
  EXPECT_EQ(result.status, kViolationStatus);
  EXPECT_NE(result.err.find("the vcpu0 thread made system call 'openat'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--seccomp off"), std::string::npos) << result.err;
}

TEST(ThreadSandboxTest, VcpuThreadMayNotCreateSockets) {
  auto result = run_in_sandboxed_thread(ThreadRole::kVcpu, [] { socket(AF_INET, SOCK_STREAM, 0); });
  EXPECT_EQ(result.status, kViolationStatus);
  EXPECT_NE(result.err.find("'socket'"), std::string::npos) << result.err;
}

TEST(ThreadSandboxTest, VcpuThreadIoctlsAreLimitedToTheKvmRequestsItIssues) {
  // TCGETS on stderr: an ioctl, but not one of KVM_RUN/KVM_IRQ_LINE/KVM_GET_REGS/KVM_GET_SREGS.
  auto result = run_in_sandboxed_thread(ThreadRole::kVcpu, [] {
    char termios_buffer[64];
    syscall(SYS_ioctl, STDERR_FILENO, 0x5401 /* TCGETS */, termios_buffer);
  });
  EXPECT_EQ(result.status, kViolationStatus);
  EXPECT_NE(result.err.find("'ioctl'"), std::string::npos) << result.err;
}

TEST(ThreadSandboxTest, EventLoopMayReadProcFilesAndStartThreads) {
  auto result = run_in_sandboxed_thread(ThreadRole::kEventLoop, [] {
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) _exit(92);
    char buffer[256];
    if (read(fd, buffer, sizeof(buffer)) <= 0) _exit(93);
    close(fd);
    std::thread worker([] {});  // clone3 answers ENOSYS; glibc falls back to clone(CLONE_THREAD)
    worker.join();
  });
  EXPECT_EQ(result.status, 0) << result.err;
}

TEST(ThreadSandboxTest, EventLoopMayNotOpenFilesForWriting) {
  auto result = run_in_sandboxed_thread(ThreadRole::kEventLoop, [] { open("/tmp/kvpc-sandbox-test", O_WRONLY | O_CREAT, 0600); });
  EXPECT_EQ(result.status, kViolationStatus);
  EXPECT_NE(result.err.find("the event-loop thread made system call 'openat'"), std::string::npos) << result.err;
}

TEST(ThreadSandboxTest, EventLoopMayNotFork) {
  auto result = run_in_sandboxed_thread(ThreadRole::kEventLoop, [] { syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); });
  EXPECT_EQ(result.status, kViolationStatus);
  EXPECT_NE(result.err.find("'clone'"), std::string::npos) << result.err;
}

TEST(ThreadSandboxTest, EventLoopMayNotExec) {
  auto result = run_in_sandboxed_thread(ThreadRole::kEventLoop, [] {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    execv("/bin/true", argv);
  });
  EXPECT_EQ(result.status, kViolationStatus);
  EXPECT_NE(result.err.find("'execve'"), std::string::npos) << result.err;
}

TEST(ThreadSandboxTest, DiskWorkerMayReadWriteAndFlushItsOpenImageButNotOpenFiles) {
  char path[] = "/tmp/kvpc-sandbox-disk-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  auto allowed = run_in_sandboxed_thread(ThreadRole::kDiskWorker, [fd] {
    char sector[512] = {1};
    if (pwrite(fd, sector, sizeof(sector), 512) != 512) _exit(92);
    if (pread(fd, sector, sizeof(sector), 0) != 512) _exit(93);
    if (fdatasync(fd) != 0) _exit(94);
  });
  EXPECT_EQ(allowed.status, 0) << allowed.err;
  auto forbidden = run_in_sandboxed_thread(ThreadRole::kDiskWorker, [] { open("/etc/hostname", O_RDONLY); });
  EXPECT_EQ(forbidden.status, kViolationStatus);
  EXPECT_NE(forbidden.err.find("'openat'"), std::string::npos) << forbidden.err;
  close(fd);
  unlink(path);
}

TEST(ThreadSandboxTest, HousekeepingThreadMayWriteAFileOpenedBeforeButNotOpenOrEnterTheGuest) {
  char path[] = "/tmp/kvpc-sandbox-trace-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::FILE* file = fdopen(fd, "w");  // opened before, written first on the filtered thread
  ASSERT_NE(file, nullptr);
  auto allowed = run_in_sandboxed_thread(ThreadRole::kHousekeeping, [file] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (std::fprintf(file, "tick\n") < 0 || std::fflush(file) != 0) _exit(92);
  });
  EXPECT_EQ(allowed.status, 0) << allowed.err;
  std::fclose(file);
  auto forbidden = run_in_sandboxed_thread(ThreadRole::kHousekeeping, [] { open("/etc/hostname", O_RDONLY); });
  EXPECT_EQ(forbidden.status, kViolationStatus);
  EXPECT_NE(forbidden.err.find("'openat'"), std::string::npos) << forbidden.err;
  auto no_guest = run_in_sandboxed_thread(ThreadRole::kHousekeeping, [] { ioctl(-1, KVM_RUN, 0); });
  EXPECT_EQ(no_guest.status, kViolationStatus);
  EXPECT_NE(no_guest.err.find("'ioctl'"), std::string::npos) << no_guest.err;
  unlink(path);
}

TEST(ThreadSandboxTest, WithoutPrepareEnteringOnlyNamesTheThread) {
  std::string name;
  std::thread thread([&] {
    ASSERT_TRUE(enter_thread_sandbox(ThreadRole::kVcpu, "vcpu7"));
    char buffer[16] = {};
    pthread_getname_np(pthread_self(), buffer, sizeof(buffer));
    name = buffer;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);  // unfiltered: fine
    EXPECT_GE(fd, 0);
    close(fd);
  });
  thread.join();
  if (thread_sandbox_enabled()) GTEST_SKIP() << "skipped: another test in this process prepared the sandbox";
  EXPECT_EQ(name, "vcpu7");
}

TEST(ThreadSandboxTest, PolicyDescriptionsNameEveryAllowedCall) {
  std::string vcpu = describe_thread_sandbox(ThreadRole::kVcpu);
  EXPECT_NE(vcpu.find("ioctl: KVM_RUN"), std::string::npos) << vcpu;
  EXPECT_EQ(vcpu.find("openat"), std::string::npos) << vcpu;
  std::string loop = describe_thread_sandbox(ThreadRole::kEventLoop);
  EXPECT_NE(loop.find("accept4"), std::string::npos) << loop;
  EXPECT_EQ(loop.find("ioctl: KVM_RUN"), std::string::npos) << loop;
  EXPECT_NE(loop.find("ioctl: KVM_IRQ_LINE"), std::string::npos) << loop;
}

}  // namespace
}  // namespace kvpc
