// BenchMachine: a kvpc machine put together piece by piece, so a benchmark or a test can sit
// between the vCPU and the exit loop.
//
// It is what Machine::create builds — guest memory, an accelerator, the real Board with every
// device, frozen buses, one vCPU with the loader's entry state — except that the vCPU handed to
// the exit loop is an ObservedVcpu: a decorator that tells an observer when KVM_RUN (or the
// emulator's run) is entered and when it returned. Everything between "returned" and the next
// "entering" is kvpc's own exit-path work; that is what exit_loop_bench times with the TSC and
// what exit_path_alloc_test checks for allocations and locks.
//
// Two extra sink devices sit where tests/bench guests aim their exits (port 0x5F8, MMIO page
// 0xD0000000), so each benchmark exit reaches a device through the real buses.
//
// Concurrency: single-threaded; run_kvpc_loop()/run_bare_loop() run the vCPU on the caller.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vmm/boot/kernel_format.h"
#include "vmm/guest_memory.h"
#include "vmm/machine/board.h"
#include "vmm/mmio_bus.h"
#include "vmm/pio_bus.h"
#include "vmm/power_control.h"
#include "vmm/result.h"
#include "vmm/run_control.h"
#include "vmm/vcpu_backend.h"
#include "vmm/vm_backend.h"

namespace kvpc::bench {

// Told around every run() of an ObservedVcpu.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void entering_run() = 0;
  virtual void run_returned() = 0;
};

class ObservedVcpu final : public VcpuBackend {
 public:
  ObservedVcpu(VcpuBackend& inner, RunObserver& observer) : inner_(inner), observer_(observer) {}
  uint32_t index() const override { return inner_.index(); }
  kvm_run* run_state() override { return inner_.run_state(); }
  int run() override {
    observer_.entering_run();
    int result = inner_.run();
    observer_.run_returned();
    return result;
  }
  Status set_entry_state(const CpuEntryState& state) override { return inner_.set_entry_state(state); }
  std::string dump_registers() override { return inner_.dump_registers(); }
  void kick() override { inner_.kick(); }
  size_t run_size() const override { return inner_.run_size(); }

 private:
  VcpuBackend& inner_;
  RunObserver& observer_;
};

// Counts what reaches it; reads return zero. As cheap as a device can be.
class SinkDevice final : public IoDevice {
 public:
  std::string_view name() const override { return "bench-sink"; }
  void read(uint64_t, std::span<uint8_t> data) override {
    for (auto& byte : data) byte = 0;
  }
  void write(uint64_t, std::span<const uint8_t> data) override { sum_ += data[0]; }
  uint64_t sum() const { return sum_; }

 private:
  uint64_t sum_ = 0;
};

struct BenchMachineOptions {
  std::string accelerator = "emu";  // "emu" or "kvm"
  std::span<const uint8_t> image;   // the guest (borrowed until create() returns)
  KernelFormat format = KernelFormat::kKvpc64;
  std::string cmdline;
  uint64_t ram_bytes = 16ULL << 20;
  CharBackend* console = nullptr;  // COM1 and debugcon output; null: discarded
};

class BenchMachine final : public PowerControl {
 public:
  static constexpr uint16_t kSinkPort = 0x5F8;
  static constexpr uint64_t kSinkMmio = 0xD0000000;

  static Result<std::unique_ptr<BenchMachine>> create(const BenchMachineOptions& options);
  ~BenchMachine() override;

  // kvpc's exit loop (VcpuRunner::loop) until the guest ends; returns the outcome. `vcpu`
  // replaces the machine's own vCPU (tests feed scripted exits to the real board this way).
  MachineOutcome run_kvpc_loop(RunObserver& observer, VcpuBackend* vcpu = nullptr);

  // The baseline any VMM must do at least: run, look at the exit reason, run again. Port and
  // MMIO exits are not dispatched (an IN or MMIO read gets whatever was in kvm_run); the
  // loop ends at a write to the debug-exit port 0x501 or any other kind of exit. Returns
  // the number of exits seen.
  uint64_t run_bare_loop(RunObserver& observer);

  VcpuBackend& vcpu() { return *vcpu_; }
  VmBackend& backend() { return *backend_; }
  Board& board() { return *board_; }
  PioBus& pio() { return pio_; }
  MmioBus& mmio() { return mmio_; }
  SinkDevice& sink() { return sink_; }

  void request_poweroff(int exit_status) override;
  void request_reset() override;

 private:
  BenchMachine() = default;

  GuestMemory memory_;
  std::unique_ptr<VmBackend> backend_;
  PioBus pio_;
  MmioBus mmio_;
  SinkDevice sink_;
  std::unique_ptr<CharBackend> null_console_;
  std::unique_ptr<Board> board_;
  RunControl control_{1};
  std::unique_ptr<VcpuBackend> vcpu_;
};

// The time-stamp counter, and its rate measured against the steady clock.
uint64_t read_tsc();
double tsc_ticks_per_ns();

}  // namespace kvpc::bench
