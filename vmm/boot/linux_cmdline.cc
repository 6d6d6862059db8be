#include "vmm/boot/linux_cmdline.h"

#include <fmt/format.h>

namespace kvpc {

std::string default_linux_cmdline(std::optional<uint32_t> tsc_khz) {
  std::string line =
      "console=ttyS0 panic=-1 quiet rodata=off rootfstype=ramfs no_timer_check tsc=reliable noxsave "
      "clearcpuid=smap,fsgsbase,rdrand,rdseed,invpcid,pku,popcnt,cx16 skip_int3_selftest=1 syscall_pf_fixup=1";
  if (tsc_khz && *tsc_khz > 0) {
    // loops_per_jiffy with a TSC delay loop is TSC cycles per tick.
    const uint64_t lpj = uint64_t{*tsc_khz} * 1000 / kLinuxTestKernelHz;
    line += fmt::format(" tsc_early_khz={} lpj={}", *tsc_khz, lpj);
  }
  return line;
}

}  // namespace kvpc
