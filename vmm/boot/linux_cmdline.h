// The command line kvpc gives a Linux kernel when `kvpc run` is given none: the one that
// boots kvpc's test kernel on the nested KVM of ../shared/PLATFORM.md and is harmless on
// real hardware virtualization (docs/linux-guests.md explains each word):
//   console=ttyS0 panic=-1 quiet rodata=off rootfstype=ramfs no_timer_check tsc=reliable
//   noxsave clearcpuid=<features the nested KVM cannot execute at CPL0>
//   skip_int3_selftest=1 syscall_pf_fixup=1      (the test kernel's patches; "=1" so a stock
//                                                 kernel, which does not know them, passes
//                                                 them to init as harmless environment)
//   tsc_early_khz=<kHz> lpj=<kHz * 1000 / 100>   (when the accelerator knows the TSC rate:
//                                                 no calibration loops, which cost seconds
//                                                 of emulated CPL0 code; lpj is for HZ=100,
//                                                 the test kernel's, and only sets delay
//                                                 lengths elsewhere)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kvpc {

// The kernel tick rate lpj= is computed for (tests/guest-kernel/kvpc-guest.config: HZ_100).
inline constexpr uint32_t kLinuxTestKernelHz = 100;

std::string default_linux_cmdline(std::optional<uint32_t> tsc_khz);

}  // namespace kvpc
