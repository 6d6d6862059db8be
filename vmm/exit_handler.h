// handle_exit: what the VMM does when KVM_RUN (or the emulator) returns.
//
// A plain function of (kvm_run, buses, stats) so tests feed it synthetic exits. It is the
// hot path: no allocation, no lock, no syscall; the devices it calls obey the same rules
// (vmm/io_device.h). Anything that needs more than the buses — a halt, a triple fault, an
// internal error — is returned as an ExitAction for the vCPU loop to act on.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

#include "vmm/exit_stats.h"
#include "vmm/mmio_bus.h"
#include "vmm/pio_bus.h"

namespace kvpc {

enum class ExitAction {
  kContinue,       // run the vCPU again
  kHalt,           // HLT reached userspace (no in-kernel irqchip): the vCPU is idle
  kTripleFault,    // KVM_EXIT_SHUTDOWN
  kPowerOff,       // KVM_EXIT_SYSTEM_EVENT shutdown
  kReset,          // KVM_EXIT_SYSTEM_EVENT reset
  kGuestCrash,     // KVM_EXIT_SYSTEM_EVENT crash
  kInternalError,  // KVM_EXIT_INTERNAL_ERROR (emulation failure etc.)
  kFailEntry,      // KVM_EXIT_FAIL_ENTRY: the hardware refused the vCPU state
  kBadExit,        // an exit kvpc does not handle, or a malformed one (io data outside the run area)
};

struct ExitContext {
  PioBus& pio;
  MmioBus& mmio;
  ExitStats& stats;
  size_t run_size;  // bytes mapped for kvm_run (bounds the io data area)
  MmioBus::Cache mmio_cache{};
  uint32_t vcpu = 0;  // index, for traces and recordings
};

// Counts the exit (ExitStats: per reason, per device range with a TSC-timed histogram) and
// handles it. When a tracer or recorder is on (vmm/observe.h) each access takes a slower
// out-of-line path; when they are off that costs one load and a not-taken branch.
ExitAction handle_exit(kvm_run& run, ExitContext& context);

// The benchmark's baselines (tests/bench/exit_path_bench.cc): the same dispatch compiled
// without the observe check, with or without per-range statistics. Not for production use.
ExitAction handle_exit_baseline_for_benchmark(kvm_run& run, ExitContext& context, bool with_stats);

const char* exit_action_name(ExitAction action);
const char* kvm_exit_reason_name(uint32_t reason);

}  // namespace kvpc
