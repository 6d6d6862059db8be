// RunControl: the VM-wide state every vCPU thread consults between exits.
//
// The hot path reads one atomic (`attention`) per exit; everything else — stop, pause,
// the first fatal outcome — is behind it and behind a mutex, taken only when something
// actually happened. Writers (the event loop, a device's power request, signal handling
// on the main thread, a vCPU that hit a fatal exit) set the state, raise `attention` and
// kick every vCPU so a vCPU inside KVM_RUN comes out to look.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kvpc {

// Why a machine stopped running.
struct MachineOutcome {
  enum class Kind {
    kPoweredOff,     // the guest turned itself off (ACPI, agent) — exit status 0
    kDebugExit,      // isa-debug-exit — exit status (v << 1) | 1
    kStopped,        // stopped from the host (kvpc stop, SIGINT/SIGTERM)
    kReset,          // the guest asked for a reset; the session rebuilds the machine
    kTripleFault,    // KVM_EXIT_SHUTDOWN with --on-triple-fault stop
    kHalted,         // every vCPU halted with nothing left to wake it
    kGuestError,     // internal error, entry failure, unhandled exit
    kHostError,      // kvpc itself failed while running (an ioctl)
  };
  Kind kind = Kind::kStopped;
  int exit_status = 0;  // for kDebugExit / kPoweredOff / kStopped
  std::string message;  // human-readable detail (register dump for guest errors)
};

const char* outcome_kind_name(MachineOutcome::Kind kind);

class RunControl {
 public:
  explicit RunControl(uint32_t vcpu_count) : vcpu_count_(vcpu_count) {}

  // Hot path: true when a vCPU must stop and look (stop, pause, or an outcome was set).
  bool attention() const { return attention_.load(std::memory_order_acquire); }

  // Records the outcome if none was recorded yet (the first one wins) and stops every vCPU.
  void finish(MachineOutcome outcome);
  std::optional<MachineOutcome> outcome() const;
  bool finished() const;
  // Blocks until finish() was called; returns the outcome.
  MachineOutcome wait_finished();

  // Pause: returns once every running vCPU is parked (true), or false if the machine finished first.
  bool pause();
  void resume();
  bool paused() const;

  // Called by a vCPU thread when attention() is set. Parks while paused; returns true
  // when the vCPU must exit its loop.
  bool vcpu_check_in();
  // A vCPU thread leaving its loop for good.
  void vcpu_exited();

  // How to make every vCPU come out of KVM_RUN (set by the machine after creating vCPUs).
  void set_kicker(std::function<void()> kick_all) { kick_all_ = std::move(kick_all); }

 private:
  void update_attention_locked();

  const uint32_t vcpu_count_;
  std::atomic<bool> attention_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<MachineOutcome> outcome_;
  bool pause_requested_ = false;
  uint32_t parked_ = 0;
  uint32_t exited_ = 0;
  std::function<void()> kick_all_;
};

}  // namespace kvpc
