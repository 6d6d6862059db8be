// Work per exit, measured in-process with the TSC on the real guest and the real board.
//
// The CPL3 benchmark guest (bench_exits.bin: N port writes to 0x5F8, then N 4-byte MMIO
// writes to 0xD0000100) runs to completion twice per repetition on fresh machines: once
// under kvpc's exit loop (VcpuRunner::loop -> handle_exit -> buses -> device) and once under
// a bare loop that only looks at the exit reason. The same observer wraps run() in both and
// records the TSC ticks between "run returned" and "run entered again" for every exit; the
// difference of the two loops' gaps is kvpc's own work per exit. The table shows the median
// over repetitions of each run's trimmed mean gap (see GapMeter).
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

// Records the ticks between a run() returning and the next run() for every exit, per kind.
// The statistic is the mean of the fastest 99 % of gaps: robust against the vCPU thread being
// preempted now and then (one 10 ms preemption in 100,000 exits adds 100 ns to a plain mean),
// yet finer than a median where the TSC advances in steps (21 ticks = 10 ns on the nested
// machines this was written on).
class GapMeter final : public RunObserver {
 public:
  GapMeter(kvm_run* run, uint64_t exits_per_kind) : run_(run) {
    pio_.reserve(exits_per_kind);
    mmio_.reserve(exits_per_kind);
  }
  void entering_run() override {
    const uint64_t now = read_tsc();
    if (returned_at_ == 0) return;
    const uint64_t gap = now - returned_at_;
    if (run_->exit_reason == KVM_EXIT_IO && run_->io.port == BenchMachine::kSinkPort) {
      if (pio_.size() < pio_.capacity()) pio_.push_back(gap);
      ++pio_exits_;
    } else if (run_->exit_reason == KVM_EXIT_MMIO) {
      if (mmio_.size() < mmio_.capacity()) mmio_.push_back(gap);
      ++mmio_exits_;
    }
  }
  void run_returned() override { returned_at_ = read_tsc(); }

  double pio_ns() { return trimmed_mean_ns(pio_); }
  double mmio_ns() { return trimmed_mean_ns(mmio_); }
  uint64_t pio_exits() const { return pio_exits_; }
  uint64_t mmio_exits() const { return mmio_exits_; }

 private:
  static double trimmed_mean_ns(std::vector<uint64_t>& gaps) {
    if (gaps.empty()) return 0.0;
    std::sort(gaps.begin(), gaps.end());
    const size_t kept = std::max<size_t>(1, gaps.size() * 99 / 100);
    double sum = 0;
    for (size_t i = 0; i < kept; ++i) sum += static_cast<double>(gaps[i]);
    return sum / static_cast<double>(kept) / tsc_ticks_per_ns();
  }
  kvm_run* run_;
  uint64_t returned_at_ = 0;
  std::vector<uint64_t> pio_, mmio_;
  uint64_t pio_exits_ = 0, mmio_exits_ = 0;
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
      GapMeter meter(machine.value()->vcpu().run_state(), exits);
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
  fmt::print("accelerator {}: {} PIO + {} MMIO exits per run; mean of the fastest 99 % of gaps, median of {} runs; TSC {:.3f} ticks/ns\n", accel, exits,
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
