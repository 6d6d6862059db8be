// Thread sandbox: a seccomp filter per thread role, so a guest that takes over a vCPU thread
// (device emulation) or the event-loop thread (control socket, integration protocol, host
// services) can reach only the handful of system calls those threads need.
//
// Policy (docs/security.md has the table and the reasons):
// - kVcpu: the exit loop and the devices it calls. write (console output, eventfds), futex,
//   memory (malloc's mmap/munmap/mprotect/madvise/brk), poll (a full console pipe), clocks and sleeps, signal return (the
//   KVM kick), tgkill/getpid/gettid (kicking other vCPUs), exit; ioctl only with the request
//   numbers the vCPU path issues (KVM_RUN, KVM_IRQ_LINE, KVM_GET_REGS, KVM_GET_SREGS).
// - kEventLoop: everything kVcpu has plus epoll, sockets already opened (accept4, recv/send,
//   getsockopt for SO_PEERCRED, shutdown), read/close/fcntl, openat read-only (the caller's
//   /proc/PID/status for its groups), fstat/lseek, and thread creation for request workers:
//   clone only with CLONE_THREAD (no fork), clone3 answers ENOSYS so glibc falls back to clone.
// - kDiskWorker (one per virtio-blk disk): kVcpu's list without KVM_RUN and the register dumps,
//   plus read (its eventfds), pread64/pwrite64 on the already open image, fdatasync (FLUSH).
// - kHousekeeping: device timers and the trace flusher (pc_platform's PIT/RTC timer thread,
//   the --trace flusher): kVcpu's list without KVM_RUN and the register dumps (KVM_IRQ_LINE
//   stays: the PIT's IRQ 0 and the RTC's IRQ 8), plus fstat/newfstatat/lseek (stdio sets up
//   a FILE's buffer on its first write).
// AddressSanitizer builds add sigaltstack, pipe2, close and sched_getaffinity to every role: the ASan runtime's
// own calls (thread_sandbox.cc says which); release builds never have them.
// Anything else raises SIGSYS (SECCOMP_RET_TRAP). The handler writes one line naming the
// thread and the system call to stderr and ends the process with the status given to
// prepare(). TRAP rather than KILL_PROCESS: the user sees which call and which thread, on
// the terminal, without access to the audit log (often unavailable in containers).
//
// The main thread is not filtered: it opens images, /dev/kvm, the runtime folder and builds
// machines, and runs no guest-facing code. Nor are the gdb stub and SDL window threads
// (docs/security.md says why).
//
// Concurrency contract: prepare() once, on the main thread, before any filtered thread starts;
// enter() from any thread afterwards (it only reads what prepare() built).
#pragma once

#include <string>
#include <string_view>

#include "vmm/result.h"

namespace kvpc {

enum class ThreadRole { kVcpu, kEventLoop, kDiskWorker, kHousekeeping };

// Compiles both filters and installs the SIGSYS handler. Until it is called (e.g. with
// --seccomp off), enter() only names the thread.
Status prepare_thread_sandbox(int violation_exit_status);

// Whether prepare_thread_sandbox() succeeded (filters are applied by enter()).
bool thread_sandbox_enabled();

// On the thread itself: names it (`name`, at most 15 characters: shown by ps/top and in the
// violation message) and, when prepared, applies the role's filter for the rest of its life.
Status enter_thread_sandbox(ThreadRole role, const std::string& name);

// The role's policy as text, one allowed system call per line (docs and tests).
std::string describe_thread_sandbox(ThreadRole role);

}  // namespace kvpc
