// Work per exit, measured in-process with the TSC on the real guest and the real board.
//
// The CPL3 benchmark guest (bench_exits.bin: N port writes to 0x5F8, then N 4-byte MMIO
// writes to 0xD0000100) runs to completion twice per repetition on fresh machines: once
// under kvpc's exit loop (VcpuRunner::loop -> handle_exit -> buses -> device) and once under
// a bare loop that only looks at the exit reason. The same observer wraps run() in both and
// adds up the TSC ticks between "run returned" and "run entered again", per exit kind; the
// difference of the two is kvpc's own work per exit. Medians over repetitions.
//
//   kvpc_bench_exit_loop [--accel emu|kvm] [--exits N] [--repetitions R]
//
// With --accel kvm the bare loop is ioctl(KVM_RUN) on the vCPU fd and nothing else (the
// minimal KVM_RUN baseline); with --accel emu it is the interpreter's run() and nothing else.
#include <linux/kvm.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "guest-firmware/blobs.h"
#include "tests/bench/bench_machine.h"

namespace kvpc::bench {
namespace {

// Adds up the ticks between a run() returning and the next run() per exit kind.
class GapMeter final : public RunObserver {
 public:
  explicit GapMeter(kvm_run* run) : run_(run) {}
  void entering_run() override {
    const uint64_t now = read_tsc();
    if (returned_at_ == 0) return;
    const uint64_t gap = now - returned_at_;
    if (run_->exit_reason == KVM_EXIT_IO && run_->io.port == BenchMachine::kSinkPort) {
      pio_ticks_ += gap;
      ++pio_exits_;
    } else if (run_->exit_reason == KVM_EXIT_MMIO) {
      mmio_ticks_ += gap;
      ++mmio_exits_;
    }
  }
  void run_returned() override { returned_at_ = read_tsc(); }

  double pio_ns() const { return per_exit(pio_ticks_, pio_exits_); }
  double mmio_ns() const { return per_exit(mmio_ticks_, mmio_exits_); }
  uint64_t pio_exits() const { return pio_exits_; }
  uint64_t mmio_exits() const { return mmio_exits_; }

 private:
  static double per_exit(uint64_t ticks, uint64_t exits) {
    return exits == 0 ? 0.0 : static_cast<double>(ticks) / static_cast<double>(exits) / tsc_ticks_per_ns();
  }
  kvm_run* run_;
  uint64_t returned_at_ = 0;
  uint64_t pio_ticks_ = 0, pio_exits_ = 0, mmio_ticks_ = 0, mmio_exits_ = 0;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int run(int argc, char** argv) {
  std::string accel = "emu";
  uint64_t exits = 100000;
  int repetitions = 5;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--accel" && i + 1 < argc) {
      accel = argv[++i];
    } else if (arg == "--exits" && i + 1 < argc) {
      exits = std::strtoull(argv[++i], nullptr, 0);
    } else if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::max(1, std::atoi(argv[++i]));
    } else {
      fmt::print(stderr, "usage: kvpc_bench_exit_loop [--accel emu|kvm] [--exits N] [--repetitions R]\n");
      return 2;
    }
  }
  BenchMachineOptions options;
  options.accelerator = accel;
  options.image = firmware::bench_exits();
  options.cmdline = fmt::format("n={}", exits);
  std::vector<double> bare_pio, bare_mmio, kvpc_pio, kvpc_mmio;
  for (int r = 0; r < repetitions; ++r) {
    for (bool kvpc_loop : {false, true}) {
      auto machine = BenchMachine::create(options);
      if (!machine) {
        fmt::print("n/a ({}: {})\n", accel, machine.error().message);
        return 3;
      }
      GapMeter meter(machine.value()->vcpu().run_state());
      if (kvpc_loop) {
        MachineOutcome outcome = machine.value()->run_kvpc_loop(meter);
        if (outcome.kind != MachineOutcome::Kind::kDebugExit || outcome.exit_status != 1) {
          fmt::print(stderr, "the benchmark guest did not finish cleanly: {}\n", outcome.message);
          return 1;
        }
        if (machine.value()->sink().sum() != 0) return 1;  // the guest writes zeroes only
      } else {
        machine.value()->run_bare_loop(meter);
      }
      if (meter.pio_exits() != exits || meter.mmio_exits() != exits) {
        fmt::print(stderr, "expected {} exits of each kind, measured {} PIO and {} MMIO\n", exits, meter.pio_exits(),
                   meter.mmio_exits());
        return 1;
      }
      (kvpc_loop ? kvpc_pio : bare_pio).push_back(meter.pio_ns());
      (kvpc_loop ? kvpc_mmio : bare_mmio).push_back(meter.mmio_ns());
    }
  }
  const double bp = median(bare_pio), bm = median(bare_mmio), kp = median(kvpc_pio), km = median(kvpc_mmio);
  fmt::print("accelerator {}: {} PIO + {} MMIO exits per run, median of {} runs, TSC {:.3f} ticks/ns\n", accel, exits,
             exits, repetitions, tsc_ticks_per_ns());
  fmt::print("| time from run returned to next run entered | PIO exit (ns) | MMIO exit (ns) |\n|---|---|---|\n");
  fmt::print("| bare loop ({}) | {:.1f} | {:.1f} |\n", accel == "kvm" ? "ioctl(KVM_RUN) only" : "emu run() only", bp, bm);
  fmt::print("| kvpc VcpuRunner::loop, real board | {:.1f} | {:.1f} |\n", kp, km);
  fmt::print("| kvpc's own work per exit (difference) | **{:.1f}** | **{:.1f}** |\n", kp - bp, km - bm);
  return 0;
}

}  // namespace
}  // namespace kvpc::bench

int main(int argc, char** argv) { return kvpc::bench::run(argc, argv); }
