// kvpc's own work per exit, next to a bare KVM_RUN-style loop, in the same run.
//
// Both loops drive the same fake vCPU backend, whose run() returns a port-write (or MMIO
// write) exit at once, so what differs is exactly what kvpc does between "KVM_RUN
// returned" and "call KVM_RUN again": the attention check, handle_exit's switch, the
// direct port table or the MMIO table with its last-hit cache, the device call and the
// counters. On real KVM both loops additionally pay the same KVM_RUN cost (~25 µs from
// CPL3 on the nested KVM kvpc is developed on), see kvm_exit_bench.cc.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "vmm/exit_handler.h"
#include "vmm/observe.h"
#include "vmm/trace.h"
#include "vmm/run_control.h"
#include "vmm/vcpu_runner.h"

namespace kvpc {
namespace {

// A device that only counts, as cheap as a device can be.
class SinkDevice final : public IoDevice {
 public:
  std::string_view name() const override { return "sink"; }
  void read(uint64_t, std::span<uint8_t> data) override { data[0] = 0; }
  void write(uint64_t, std::span<const uint8_t> data) override { sum_ += data[0]; }
  uint64_t sum_ = 0;
};

// Returns `remaining` synthetic exits, then a SHUTDOWN exit.
class SyntheticVcpu final : public VcpuBackend {
 public:
  SyntheticVcpu(bool mmio, uint64_t exits) : buffer_(8192), mmio_(mmio), remaining_(exits) {}
  uint32_t index() const override { return 0; }
  kvm_run* run_state() override { return reinterpret_cast<kvm_run*>(buffer_.data()); }
  size_t run_size() const override { return buffer_.size(); }
  int run() override {
    kvm_run* run = run_state();
    if (remaining_ == 0) {
      run->exit_reason = KVM_EXIT_SHUTDOWN;
      return 0;
    }
    --remaining_;
    if (mmio_) {
      run->exit_reason = KVM_EXIT_MMIO;
      run->mmio.phys_addr = 0xD0000100;
      run->mmio.len = 4;
      run->mmio.is_write = 1;
    } else {
      run->exit_reason = KVM_EXIT_IO;
      run->io.direction = KVM_EXIT_IO_OUT;
      run->io.size = 1;
      run->io.port = 0x5F8;
      run->io.count = 1;
      run->io.data_offset = 4096;
    }
    return 0;
  }
  Status set_entry_state(const CpuEntryState&) override { return ok_status(); }
  std::string dump_registers() override { return {}; }
  void kick() override {}
  void reset(uint64_t exits) { remaining_ = exits; }

 private:
  std::vector<uint8_t> buffer_;
  bool mmio_;
  uint64_t remaining_;
};

constexpr uint64_t kExitsPerIteration = 100000;

// The baseline: what any VMM must do — call run, look at the reason, go again.
void BM_BareLoop(benchmark::State& state) {
  SyntheticVcpu vcpu(state.range(0) != 0, kExitsPerIteration);
  for (auto _ : state) {
    vcpu.reset(kExitsPerIteration);
    uint64_t handled = 0;
    while (true) {
      vcpu.run();
      uint32_t reason = vcpu.run_state()->exit_reason;
      if (reason == KVM_EXIT_SHUTDOWN) break;
      benchmark::DoNotOptimize(++handled);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kExitsPerIteration));
  state.SetLabel(state.range(0) ? "mmio" : "pio");
}

// kvpc's real exit loop (VcpuRunner::loop) dispatching to a device on the buses.
void BM_KvpcLoop(benchmark::State& state) {
  bool mmio = state.range(0) != 0;
  SinkDevice device;
  PioBus pio;
  MmioBus mmio_bus;
  (void)pio.add(&device, 0x5F8, 1);
  (void)mmio_bus.add(&device, 0xD0000000, 0x1000);
  // Other devices on the MMIO bus, so the lookup is not trivially the only range.
  std::vector<SinkDevice> others(16);
  for (size_t i = 0; i < others.size(); ++i) (void)mmio_bus.add(&others[i], 0xE0000000 + i * 0x10000, 0x1000);
  pio.freeze();
  mmio_bus.freeze();
  SyntheticVcpu vcpu(mmio, kExitsPerIteration);
  for (auto _ : state) {
    vcpu.reset(kExitsPerIteration);
    RunControl control(1);
    VcpuRunner runner(vcpu, pio, mmio_bus, control, {false, vcpu.run_size()});
    runner.loop();  // ends on the synthetic SHUTDOWN (triple fault)
  }
  benchmark::DoNotOptimize(device.sum_);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kExitsPerIteration));
  state.SetLabel(mmio ? "mmio" : "pio");
}

// handle_exit alone, in four builds of the same dispatch (docs/debugging.md, "Cost"):
//   0 baseline: no per-range statistics, no observe check (compiled without either)
//   1 + statistics: per-range counters and the TSC-timed histogram
//   2 production handle_exit with tracing and recording off (statistics + one observe check)
//   3 production handle_exit with `--trace pio,mmio` on, writing to /dev/null
enum Variant { kBaseline = 0, kStats = 1, kProductionTraceOff = 2, kTraceOn = 3 };

void BM_HandleExit(benchmark::State& state) {
  const bool mmio = state.range(0) != 0;
  const auto variant = static_cast<Variant>(state.range(1));
  SinkDevice device;
  PioBus pio;
  MmioBus mmio_bus;
  (void)pio.add(&device, 0x5F8, 1);
  (void)mmio_bus.add(&device, 0xD0000000, 0x1000);
  std::vector<SinkDevice> others(16);
  for (size_t i = 0; i < others.size(); ++i) (void)mmio_bus.add(&others[i], 0xE0000000 + i * 0x10000, 0x1000);
  pio.freeze();
  mmio_bus.freeze();
  SyntheticVcpu vcpu(mmio, 1);
  vcpu.run();  // fills kvm_run with one exit; every iteration handles that same exit
  kvm_run& run = *vcpu.run_state();
  ExitStats stats;
  ExitContext context{pio, mmio_bus, stats, vcpu.run_size()};
  std::unique_ptr<Tracer> tracer;
  if (variant == kTraceOn) {
    tracer = std::move(Tracer::open("/dev/null")).value();
    observe::install_tracer(tracer.get());
    observe::set_trace_categories(observe::kPio | observe::kMmio);
  }
  for (auto _ : state) {
    for (uint64_t i = 0; i < kExitsPerIteration; ++i) {
      ExitAction action = variant == kBaseline ? handle_exit_baseline_for_benchmark(run, context, false)
                          : variant == kStats  ? handle_exit_baseline_for_benchmark(run, context, true)
                                               : handle_exit(run, context);
      benchmark::DoNotOptimize(action);
    }
  }
  if (tracer) {
    observe::set_trace_categories(0);
    observe::install_tracer(nullptr);
  }
  benchmark::DoNotOptimize(device.sum_);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kExitsPerIteration));
  static const char* kNames[] = {"baseline", "stats", "stats+trace-off", "stats+trace-on"};
  state.SetLabel(fmt::format("{} {}", mmio ? "mmio" : "pio", kNames[variant]));
}

BENCHMARK(BM_BareLoop)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KvpcLoop)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HandleExit)
    ->ArgsProduct({{0, 1}, {kBaseline, kStats, kProductionTraceOff, kTraceOn}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kvpc

BENCHMARK_MAIN();
