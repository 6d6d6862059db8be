// kvpc's exit statuses — documented in README.md and `kvpc --help`; stable for scripts.
//
// Odd statuses belong to the guest: isa-debug-exit maps a write of v to (v << 1) | 1,
// exactly as QEMU does. kvpc's own statuses are therefore even.
#pragma once

namespace kvpc {

inline constexpr int kExitOk = 0;              // the guest powered off, or it was stopped from the host
inline constexpr int kExitError = 2;           // kvpc's own error: bad arguments, bad image, failure while running
inline constexpr int kExitKvmUnavailable = 4;  // /dev/kvm missing or not accessible (use --accel emu)
inline constexpr int kExitTripleFault = 6;     // the guest triple-faulted (with --on-triple-fault stop)
inline constexpr int kExitGuestError = 8;      // KVM internal error, entry failure, unhandled exit
inline constexpr int kExitCallFailed = 10;     // a control verb (logoff, stop, …) got a failure answer
inline constexpr int kExitSandboxViolation = 12;  // a filtered thread made a forbidden system call (seccomp)

}  // namespace kvpc
