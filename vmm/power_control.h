// PowerControl: how a device asks the VM to power off, reset or stop.
//
// Implemented by the Vm (vmm/vm.h). Callable from vCPU threads (the exit path) and the
// event loop: it records the request atomically and kicks the vCPUs; it never blocks.
#pragma once

#include <cstdint>

namespace kvpc {

class PowerControl {
 public:
  virtual ~PowerControl() = default;
  // The guest turned itself off. exit_status becomes kvpc's exit status
  // (isa-debug-exit passes (value << 1) | 1; ACPI/agent power-off passes 0).
  virtual void request_poweroff(int exit_status) = 0;
  // The guest asked for a reset (i8042 0xFE, port 0x92 bit 0, triple fault with
  // --on-triple-fault reset).
  virtual void request_reset() = 0;
};

}  // namespace kvpc
