#include "vmm/thread_sandbox.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace kvpc {

namespace {

// One allowed system call, optionally only when argument `arg` passes a masked compare.
struct Allowed {
  int syscall;
  int arg = -1;            // -1: any arguments
  uint64_t mask = 0;       // (argument & mask) == value
  uint64_t value = 0;
  const char* why = "";
};

constexpr uint64_t kAll = ~uint64_t{0};

// The vCPU thread: the exit loop and every device's register file.
std::vector<Allowed> vcpu_policy() {
  return {
      {SCMP_SYS(write), -1, 0, 0, "console/serial output, eventfd signals, log lines"},
      {SCMP_SYS(writev), -1, 0, 0, "log lines"},
      {SCMP_SYS(futex), -1, 0, 0, "mutexes and condition variables (pause, device locks)"},
      {SCMP_SYS(poll), -1, 0, 0, "waiting for a full console pipe to drain (FdCharBackend)"},
      {SCMP_SYS(ppoll), -1, 0, 0, "waiting for a full console pipe to drain (FdCharBackend)"},
      {SCMP_SYS(mmap), -1, 0, 0, "malloc (messages on the fatal-exit paths)"},
      {SCMP_SYS(munmap), -1, 0, 0, "free"},
      {SCMP_SYS(mprotect), -1, 0, 0, "malloc arenas"},
      {SCMP_SYS(madvise), -1, 0, 0, "free; thread exit"},
      {SCMP_SYS(brk), -1, 0, 0, "malloc"},
      {SCMP_SYS(mremap), -1, 0, 0, "realloc"},
      {SCMP_SYS(clock_gettime), -1, 0, 0, "timestamps (when the vDSO falls back)"},
      {SCMP_SYS(gettimeofday), -1, 0, 0, "timestamps (when the vDSO falls back)"},
      {SCMP_SYS(clock_nanosleep), -1, 0, 0, "idle waits"},
      {SCMP_SYS(nanosleep), -1, 0, 0, "idle waits"},
      {SCMP_SYS(sched_yield), -1, 0, 0, "spin-wait back-off"},
      {SCMP_SYS(rt_sigreturn), -1, 0, 0, "return from the KVM kick signal"},
      {SCMP_SYS(rt_sigprocmask), -1, 0, 0, "thread exit; abort()"},
      {SCMP_SYS(restart_syscall), -1, 0, 0, "a futex wait interrupted by the kick"},
      {SCMP_SYS(tgkill), -1, 0, 0, "kicking other vCPUs out of KVM_RUN; abort()"},
      {SCMP_SYS(getpid), -1, 0, 0, "pthread_kill"},
      {SCMP_SYS(gettid), -1, 0, 0, "log lines"},
      {SCMP_SYS(exit), -1, 0, 0, "thread exit"},
      {SCMP_SYS(exit_group), -1, 0, 0, "process exit (also the SIGSYS handler's)"},
      {SCMP_SYS(ioctl), 1, kAll, KVM_RUN, "KVM_RUN"},
      {SCMP_SYS(ioctl), 1, kAll, KVM_IRQ_LINE, "KVM_IRQ_LINE (COM1's interrupt)"},
      {SCMP_SYS(ioctl), 1, kAll, KVM_GET_REGS, "KVM_GET_REGS (register dump of a failed guest)"},
      {SCMP_SYS(ioctl), 1, kAll, KVM_GET_SREGS, "KVM_GET_SREGS (register dump of a failed guest)"},
  };
}

// AddressSanitizer builds only (tools/test.sh's sanitize stage, the fuzz build): the ASan
// runtime itself makes system calls on every thread that kvpc's code does not.
// __asan_handle_no_return (called before every noreturn call, _exit() in the SIGSYS handler
// included) asks sigaltstack() whether it runs on the signal stack, and thread exit tears that
// stack down; the allocator probes whether memory is readable by writing it into a pipe
// (pipe2, write, close); a thread started by a filtered thread (the event loop's request
// workers) registers its stack through glibc's pthread_getattr_np, which asks
// sched_getaffinity. Without these, every filtered thread of a sanitizer build dies of
// SIGSYS inside the runtime, so no test of a running VM could pass. Release builds never
// contain them: the policy that ships is the one above.
#if defined(__SANITIZE_ADDRESS__)
#define KVPC_ASAN_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KVPC_ASAN_RUNTIME 1
#endif
#endif

std::vector<Allowed> sanitizer_runtime_policy() {
#ifdef KVPC_ASAN_RUNTIME
  return {
      {SCMP_SYS(sigaltstack), -1, 0, 0, "ASan runtime (sanitizer builds only): signal-stack checks, thread exit"},
      {SCMP_SYS(pipe2), -1, 0, 0, "ASan runtime (sanitizer builds only): readable-memory probes"},
      {SCMP_SYS(close), -1, 0, 0, "ASan runtime (sanitizer builds only): readable-memory probes"},
      {SCMP_SYS(sched_getaffinity), -1, 0, 0,
       "ASan runtime (sanitizer builds only): a new thread's stack bounds (glibc's pthread_getattr_np)"},
  };
#else
  return {};
#endif
}

// The event-loop thread (and the request workers it starts, which inherit its filter).
std::vector<Allowed> event_loop_policy() {
  std::vector<Allowed> rules = vcpu_policy();
  // The loop never enters the guest.
  std::erase_if(rules, [](const Allowed& rule) { return rule.syscall == SCMP_SYS(ioctl) && rule.value != KVM_IRQ_LINE; });
  const std::vector<Allowed> more = {
      {SCMP_SYS(read), -1, 0, 0, "control requests, stdin, eventfds, signalfd"},
      {SCMP_SYS(readv), -1, 0, 0, "buffered reads"},
      {SCMP_SYS(epoll_wait), -1, 0, 0, "the loop"},
      {SCMP_SYS(epoll_pwait), -1, 0, 0, "the loop"},
      {SCMP_SYS(epoll_ctl), -1, 0, 0, "watching clients and devices"},
      {SCMP_SYS(accept4), -1, 0, 0, "control socket clients"},
      {SCMP_SYS(accept), -1, 0, 0, "control socket clients"},
      {SCMP_SYS(recvfrom), -1, 0, 0, "control requests"},
      {SCMP_SYS(recvmsg), -1, 0, 0, "control requests"},
      {SCMP_SYS(sendto), -1, 0, 0, "control replies, events"},
      {SCMP_SYS(sendmsg), -1, 0, 0, "control replies, events"},
      {SCMP_SYS(getsockopt), -1, 0, 0, "SO_PEERCRED: who is calling"},
      {SCMP_SYS(shutdown), -1, 0, 0, "closing clients"},
      {SCMP_SYS(close), -1, 0, 0, "clients, a finished machine's descriptors"},
      {SCMP_SYS(fcntl), -1, 0, 0, "non-blocking clients"},
      {SCMP_SYS(fstat), -1, 0, 0, "stdio buffering"},
      {SCMP_SYS(newfstatat), -1, 0, 0, "stdio buffering"},
      {SCMP_SYS(lseek), -1, 0, 0, "stdio"},
      {SCMP_SYS(openat), 2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY,
       "read-only: the caller's /proc/PID/status (its groups)"},
      {SCMP_SYS(getuid), -1, 0, 0, "access checks"},
      {SCMP_SYS(geteuid), -1, 0, 0, "access checks"},
      {SCMP_SYS(getgid), -1, 0, 0, "access checks"},
      {SCMP_SYS(getegid), -1, 0, 0, "access checks"},
      {SCMP_SYS(clone), 0, CLONE_THREAD | CLONE_VM, CLONE_THREAD | CLONE_VM,
       "request workers: threads only, never a new process"},
      {SCMP_SYS(set_robust_list), -1, 0, 0, "new threads"},
      {SCMP_SYS(rseq), -1, 0, 0, "new threads"},
  };
  rules.insert(rules.end(), more.begin(), more.end());
  return rules;
}

// A virtio-blk worker: waits on its eventfds, reads and writes the open image, flushes it.
std::vector<Allowed> disk_worker_policy() {
  std::vector<Allowed> rules = vcpu_policy();
  std::erase_if(rules, [](const Allowed& rule) { return rule.syscall == SCMP_SYS(ioctl) && rule.value != KVM_IRQ_LINE; });
  const std::vector<Allowed> more = {
      {SCMP_SYS(read), -1, 0, 0, "the doorbell and stop eventfds"},
      {SCMP_SYS(pread64), -1, 0, 0, "disk reads (the image is opened on the main thread)"},
      {SCMP_SYS(pwrite64), -1, 0, 0, "disk writes"},
      {SCMP_SYS(fdatasync), -1, 0, 0, "the guest's FLUSH"},
  };
  rules.insert(rules.end(), more.begin(), more.end());
  return rules;
}

// Timer and flusher threads: sleep, tick device models (which may raise an interrupt), write
// trace lines to a FILE opened on the main thread.
std::vector<Allowed> housekeeping_policy() {
  std::vector<Allowed> rules = vcpu_policy();
  std::erase_if(rules, [](const Allowed& rule) { return rule.syscall == SCMP_SYS(ioctl) && rule.value != KVM_IRQ_LINE; });
  const std::vector<Allowed> more = {
      {SCMP_SYS(fstat), -1, 0, 0, "stdio buffering (the trace file's first write)"},
      {SCMP_SYS(newfstatat), -1, 0, 0, "stdio buffering (the trace file's first write)"},
      {SCMP_SYS(lseek), -1, 0, 0, "stdio"},
  };
  rules.insert(rules.end(), more.begin(), more.end());
  return rules;
}

std::vector<Allowed> role_policy(ThreadRole role) {
  switch (role) {
    case ThreadRole::kVcpu: return vcpu_policy();
    case ThreadRole::kEventLoop: return event_loop_policy();
    case ThreadRole::kDiskWorker: return disk_worker_policy();
    case ThreadRole::kHousekeeping: return housekeeping_policy();
  }
  return vcpu_policy();
}

std::vector<Allowed> policy_for(ThreadRole role) {
  std::vector<Allowed> rules = role_policy(role);
  for (const Allowed& rule : sanitizer_runtime_policy()) {
    bool already = std::any_of(rules.begin(), rules.end(), [&](const Allowed& have) {
      return have.syscall == rule.syscall && have.arg < 0;
    });
    if (!already) rules.push_back(rule);
  }
  return rules;
}

// What prepare() builds and enter() reads.
struct Prepared {
  std::vector<sock_filter> vcpu;
  std::vector<sock_filter> event_loop;
  std::vector<sock_filter> disk_worker;
  std::vector<sock_filter> housekeeping;
  std::vector<std::string> syscall_names;  // by number, for the SIGSYS handler
  int violation_exit_status = 2;
};
// Written once by prepare() (main thread), read by enter() and the SIGSYS handler on any thread
// (the trace flusher polls thread_sandbox_enabled()): atomic, lock-free, so signal-safe.
std::atomic<Prepared*> g_prepared{nullptr};
thread_local const char* t_thread_name = nullptr;

Result<std::vector<sock_filter>> compile(ThreadRole role) {
  scmp_filter_ctx context = seccomp_init(SCMP_ACT_TRAP);
  if (context == nullptr) return make_error("seccomp_init failed");
  struct Release {
    scmp_filter_ctx context;
    ~Release() { seccomp_release(context); }
  } release{context};
  // 32-bit (int 0x80) and x32 system calls: reported like any forbidden call.
  seccomp_attr_set(context, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
  for (const Allowed& rule : policy_for(role)) {
    // The comparison is built by hand: libseccomp's SCMP_CMP macro is a C99 compound literal,
    // which clang (the fuzz build) rejects in C++ under -Wpedantic -Werror.
    const scmp_arg_cmp compare{static_cast<unsigned>(rule.arg), SCMP_CMP_MASKED_EQ, rule.mask, rule.value};
    int rc = rule.arg < 0 ? seccomp_rule_add(context, SCMP_ACT_ALLOW, rule.syscall, 0)
                          : seccomp_rule_add_array(context, SCMP_ACT_ALLOW, rule.syscall, 1, &compare);
    if (rc != 0) return make_error(fmt::format("seccomp rule for system call {}: {}", rule.syscall, strerror(-rc)));
  }
  if (role == ThreadRole::kEventLoop) {
    // clone3's flags sit behind a pointer the filter cannot read: say "not here", and
    // glibc falls back to clone, whose flags the rule above checks.
    if (int rc = seccomp_rule_add(context, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc != 0) {
      return make_error(fmt::format("seccomp rule for clone3: {}", strerror(-rc)));
    }
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return make_error(fmt::format("pipe: {}", strerror(errno)));
  int rc = seccomp_export_bpf(context, pipe_fds[1]);
  close(pipe_fds[1]);
  std::vector<uint8_t> bytes;
  uint8_t buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
  close(pipe_fds[0]);
  if (rc != 0 || bytes.empty() || bytes.size() % sizeof(sock_filter) != 0) {
    return make_error(fmt::format("seccomp_export_bpf failed: {}", rc != 0 ? strerror(-rc) : "bad size"));
  }
  std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
  std::memcpy(program.data(), bytes.data(), bytes.size());
  return program;
}

// Async-signal-safe: only write() and _exit(), both allowed by every policy. A fixed buffer
// with a length (not a pair of pointers: gcc's -Wmaybe-uninitialized misreads those at -O0
// with the sanitizers on).
struct SignalMessage {
  char text[512];
  size_t length = 0;
  void append(const char* more) {
    while (*more != '\0' && length < sizeof(text)) text[length++] = *more++;
  }
};

void on_sigsys(int, siginfo_t* info, void*) {
  SignalMessage message;
  message.append("kvpc: seccomp: the ");
  message.append(t_thread_name != nullptr ? t_thread_name : "request-worker");
  message.append(" thread made system call '");
  int number = info->si_syscall;
  const Prepared* prepared = g_prepared;
  if (prepared != nullptr && number >= 0 && static_cast<size_t>(number) < prepared->syscall_names.size() &&
      !prepared->syscall_names[static_cast<size_t>(number)].empty()) {
    message.append(prepared->syscall_names[static_cast<size_t>(number)].c_str());
  } else {
    message.append("?");
  }
  message.append("' (");
  char digits[16];
  int count = 0;
  unsigned value = static_cast<unsigned>(number);
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && count < 15);
  digits[count] = '\0';
  for (int left = 0, right = count - 1; left < right; ++left, --right) std::swap(digits[left], digits[right]);
  message.append(digits);
  message.append(
      "), which its filter forbids; kvpc stopped. This is a kvpc bug: please report it; "
      "`kvpc run --seccomp off` runs without the filter.\n");
  [[maybe_unused]] ssize_t written = write(STDERR_FILENO, message.text, message.length);
  _exit(prepared != nullptr ? prepared->violation_exit_status : 2);
}

}  // namespace

Status prepare_thread_sandbox(int violation_exit_status) {
  if (g_prepared != nullptr) return ok_status();
  if (prctl(PR_GET_SECCOMP) < 0) {
    return make_error(fmt::format("this kernel has no seccomp ({}); run with --seccomp off", strerror(errno)));
  }
  auto prepared = std::make_unique<Prepared>();
  prepared->violation_exit_status = violation_exit_status;
  auto vcpu = compile(ThreadRole::kVcpu);
  if (!vcpu) return vcpu.error();
  auto event_loop = compile(ThreadRole::kEventLoop);
  if (!event_loop) return event_loop.error();
  auto disk_worker = compile(ThreadRole::kDiskWorker);
  if (!disk_worker) return disk_worker.error();
  prepared->disk_worker = std::move(disk_worker).value();
  auto housekeeping = compile(ThreadRole::kHousekeeping);
  if (!housekeeping) return housekeeping.error();
  prepared->housekeeping = std::move(housekeeping).value();
  prepared->vcpu = std::move(vcpu).value();
  prepared->event_loop = std::move(event_loop).value();
  constexpr int kSyscallTableSize = 512;
  prepared->syscall_names.resize(kSyscallTableSize);
  for (int number = 0; number < kSyscallTableSize; ++number) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
    if (name != nullptr) {
      prepared->syscall_names[static_cast<size_t>(number)] = name;
      std::free(name);
    }
  }
  struct sigaction action{};
  action.sa_sigaction = on_sigsys;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSYS, &action, nullptr) != 0) return make_error(fmt::format("sigaction(SIGSYS): {}", strerror(errno)));
  g_prepared = prepared.release();  // lives until exit: filtered threads may trap at any time
  return ok_status();
}

bool thread_sandbox_enabled() { return g_prepared != nullptr; }

Status enter_thread_sandbox(ThreadRole role, const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  static thread_local std::array<char, 16> stored_name{};
  std::strncpy(stored_name.data(), name.c_str(), stored_name.size() - 1);
  t_thread_name = stored_name.data();
  const Prepared* prepared = g_prepared;
  if (prepared == nullptr) return ok_status();
  const auto& program = role == ThreadRole::kVcpu         ? prepared->vcpu
                        : role == ThreadRole::kEventLoop  ? prepared->event_loop
                        : role == ThreadRole::kDiskWorker ? prepared->disk_worker
                                                          : prepared->housekeeping;
  sock_fprog fprog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  // Required for an unprivileged filter; harmless for root, and kvpc never execs.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return make_error(fmt::format("prctl(PR_SET_NO_NEW_PRIVS): {}", strerror(errno)));
  }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
    return make_error(fmt::format("seccomp filter for the {} thread: {}", name, strerror(errno)));
  }
  return ok_status();
}

std::string describe_thread_sandbox(ThreadRole role) {
  std::string text;
  for (const Allowed& rule : policy_for(role)) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, rule.syscall);
    text += fmt::format("{}: {}\n", name != nullptr ? name : "?", rule.why);
    std::free(name);
  }
  if (role == ThreadRole::kEventLoop) text += "clone3: answered ENOSYS (glibc then uses clone)\n";
  return text;
}

}  // namespace kvpc
