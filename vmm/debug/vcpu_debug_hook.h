// VcpuDebugHook: how a debugger (the gdb stub) gets hold of vCPU threads.
//
// VcpuRunner calls these on its own vCPU thread, and only when a hook is installed
// (VcpuRunnerOptions::debug), so a VM without a debugger pays nothing. Each call may block
// the vCPU thread (that is how the debugger stops it) and returns when the vCPU may run on
// or the machine finished; the runner then looks at RunControl as usual.
#pragma once

#include "vmm/vcpu_backend.h"

namespace kvpc {

class VcpuDebugHook {
 public:
  virtual ~VcpuDebugHook() = default;
  // Before the vCPU's first run() (where --gdb-wait holds it).
  virtual void vcpu_starting(VcpuBackend& vcpu) = 0;
  // run() returned -EINTR: the debugger may have kicked this vCPU to stop it.
  virtual void vcpu_interrupted(VcpuBackend& vcpu) = 0;
  // run() reported KVM_EXIT_DEBUG (run_state()->debug.arch says why).
  virtual void vcpu_debug_exit(VcpuBackend& vcpu) = 0;
};

}  // namespace kvpc
