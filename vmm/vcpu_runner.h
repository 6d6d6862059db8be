// VcpuRunner: the thread that runs one vCPU — the exit loop.
//
// The loop is: check one atomic (RunControl::attention), KVM_RUN, handle_exit, repeat.
// No allocation, no lock and no syscall besides KVM_RUN on that path; a lock is taken
// only when attention is raised (pause, stop) or on a fatal exit, where the loop ends.
#pragma once

#include <cstddef>
#include <string>
#include <thread>

#include "vmm/debug/vcpu_debug_hook.h"
#include "vmm/exit_handler.h"
#include "vmm/run_control.h"
#include "vmm/vcpu_backend.h"

namespace kvpc {

struct VcpuRunnerOptions {
  bool reset_on_triple_fault = false;
  size_t run_size = 4096;  // bytes mapped for kvm_run (bounds I/O data offsets)
  VcpuDebugHook* debug = nullptr;  // gdb stub (--gdb); consulted only off the hot path
};

class VcpuRunner {
 public:
  VcpuRunner(VcpuBackend& backend, PioBus& pio, MmioBus& mmio, RunControl& control, VcpuRunnerOptions options);
  ~VcpuRunner();
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  void start();
  void join();
  // The loop itself, on the calling thread (tests use it directly).
  void loop();

  const ExitStats& stats() const { return stats_; }
  VcpuBackend& backend() { return backend_; }

 private:
  // Turns a non-continue ExitAction into the machine's outcome. Returns true to leave the loop.
  bool on_action(ExitAction action);
  std::string describe_internal_error();

  VcpuBackend& backend_;
  PioBus& pio_;
  MmioBus& mmio_;
  RunControl& control_;
  VcpuRunnerOptions options_;
  ExitStats stats_;
  std::thread thread_;
};

}  // namespace kvpc
