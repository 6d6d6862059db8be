// VcpuBackend: one virtual CPU that runs guest code until it needs the VMM.
//
// Two implementations: KvmVcpu (vmm/kvm_vcpu.h, KVM_RUN on a vCPU fd) and EmuVcpu
// (vmm/emu/, a software x86-64 interpreter for machines without /dev/kvm). Both report
// exits in a `struct kvm_run` laid out exactly as KVM does, so the exit handler and
// every device are the same code whichever backend runs the guest.
//
// Contract of run(): it returns 0 after filling run_state()->exit_reason (and the
// io/mmio/... union), or -errno (-EINTR when kicked). Completing an IN or MMIO read
// follows KVM: the VMM writes the data into the kvm_run and the *next* run() delivers it
// to the guest before executing further. If run_state()->immediate_exit is set, run()
// returns -EINTR at once (after completing a pending IN/MMIO read).
//
// Concurrency: a backend is used by its own vCPU thread only, except kick(), which any
// thread may call to make a blocked run() return -EINTR soon.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "vmm/cpu_entry_state.h"
#include "vmm/result.h"
#include "vmm/vcpu_registers.h"

namespace kvpc {

class VcpuBackend {
 public:
  virtual ~VcpuBackend() = default;

  virtual uint32_t index() const = 0;
  virtual kvm_run* run_state() = 0;
  virtual int run() = 0;
  virtual Status set_entry_state(const CpuEntryState& state) = 0;
  // General, segment and control registers in one readable block, for fatal-exit errors.
  virtual std::string dump_registers() = 0;
  // Makes a run() in progress (or the next one) return -EINTR.
  virtual void kick() = 0;
  // Bytes of the area run_state() points to; KVM_EXIT_IO data (data_offset) lies inside it.
  virtual size_t run_size() const { return 4096; }

  // --- Debugger access (the gdb stub, vmm/debug/). KVM's own structures and semantics:
  // KVM_GET/SET_REGS, KVM_GET/SET_SREGS and KVM_SET_GUEST_DEBUG, whose debug exits arrive
  // as KVM_EXIT_DEBUG with run_state()->debug.arch filled. Another thread may call these
  // only while this vCPU's thread is parked outside run() (the stub's gate hands the vCPU
  // over under a mutex); the defaults say the backend cannot be debugged.
  virtual Status get_regs(kvm_regs& regs) { (void)regs; return make_error("this vCPU backend has no debugger access"); }
  virtual Status set_regs(const kvm_regs& regs) { (void)regs; return make_error("this vCPU backend has no debugger access"); }
  virtual Status get_sregs(kvm_sregs& sregs) { (void)sregs; return make_error("this vCPU backend has no debugger access"); }
  virtual Status set_sregs(const kvm_sregs& sregs) { (void)sregs; return make_error("this vCPU backend has no debugger access"); }
  virtual Status set_guest_debug(const kvm_guest_debug& debug) {
    (void)debug;
    return make_error("this vCPU backend has no debugger access");
  }
  // `kvpc inspect`: the registers. Only while the vCPU is parked (RunControl::pause) or before
  // it runs: the caller's thread reads state the vCPU thread owns, ordered by the pause.
  virtual Result<VcpuRegisters> read_registers() { return make_error("this vCPU backend cannot read registers"); }
};

}  // namespace kvpc
