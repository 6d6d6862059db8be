// Machine: one booted PC — memory, accelerator, devices, vCPU threads.
//
// Built from a MachineConfig by create(), which does every check that can fail (image
// files, /dev/kvm, memory) before any thread starts. start() launches the vCPU threads;
// wait() blocks until the machine finished (power off, debug exit, triple fault, stop,
// reset request) and joins them. A reset is not done in place: the session (tools/)
// builds a fresh Machine from the same config, so no device state survives by accident.
//
// Concurrency contract: create/start/wait on the owning thread; stop/pause/resume and the
// PowerControl methods from any thread (devices call the latter on vCPU threads).
#pragma once

#include <memory>
#include <vector>

#include "devices/char_backend.h"
#include "devices/uart16550.h"
#include "vmm/event_loop.h"
#include "vmm/guest_memory.h"
#include "vmm/machine/board.h"
#include "vmm/machine/machine_config.h"
#include "vmm/mmio_bus.h"
#include "vmm/pio_bus.h"
#include "vmm/power_control.h"
#include "vmm/run_control.h"
#include "vmm/vcpu_runner.h"
#include "vmm/vm_backend.h"

namespace kvpc {

// Optional overrides, mainly for tests: capture console output instead of opening backends.
struct MachineHooks {
  CharBackend* serial_output = nullptr;
  CharBackend* debugcon_output = nullptr;
  VcpuDebugHook* debug = nullptr;  // the gdb stub (--gdb), handed to every vCPU runner
};

class Machine final : public PowerControl {
 public:
  static Result<std::unique_ptr<Machine>> create(const MachineConfig& config, EventLoop& loop,
                                                 MachineHooks hooks = {});
  ~Machine() override;

  void start();
  MachineOutcome wait();
  void stop(MachineOutcome outcome) { control_.finish(std::move(outcome)); }
  bool pause() { return control_.pause(); }
  void resume() { control_.resume(); }
  bool paused() const { return control_.paused(); }
  bool finished() const { return control_.finished(); }

  // PowerControl (devices on vCPU threads).
  void request_poweroff(int exit_status) override;
  void request_reset() override;

  // The VGA framebuffer's dirty pages since the last call (any thread; see VmBackend).
  Status fetch_framebuffer_dirty_log(std::span<uint64_t> bitmap);

  const MachineConfig& config() const { return config_; }
  std::string_view accelerator() const { return backend_->accelerator(); }
  Board& board() { return *board_; }
  GuestMemory& memory() { return memory_; }
  const std::vector<std::unique_ptr<VcpuRunner>>& vcpus() const { return runners_; }
  // For statistics and `kvpc inspect` (frozen once created; read-only use from any thread).
  const PioBus& pio() const { return pio_; }
  const MmioBus& mmio() const { return mmio_; }
  VmBackend& backend() { return *backend_; }

 private:
  Machine(MachineConfig config, EventLoop& loop, GuestMemory memory, std::unique_ptr<VmBackend> backend);
  Status load_boot_image(CpuEntryState& entry);

  MachineConfig config_;
  EventLoop& loop_;
  GuestMemory memory_;
  std::unique_ptr<VmBackend> backend_;
  PioBus pio_;
  MmioBus mmio_;
  std::unique_ptr<Board> board_;
  RunControl control_;
  std::vector<std::unique_ptr<VcpuBackend>> vcpu_backends_;
  std::vector<std::unique_ptr<VcpuRunner>> runners_;
  bool started_ = false;
};

// Creates the accelerator backend the config asks for ("auto" tries KVM, then the emulator).
Result<std::unique_ptr<VmBackend>> create_accelerator(const MachineConfig& config);

}  // namespace kvpc
