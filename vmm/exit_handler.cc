#include "vmm/exit_handler.h"

#include <x86intrin.h>

#include <span>

#include "vmm/observe.h"

namespace kvpc {

namespace {

inline uint64_t cycles_now() { return __rdtsc(); }

// The observed (slow) path for one access: taken only when tracing or recording is on. It does
// exactly what the fast path does, inside a recorder scope, then hands the access over.
void observed_pio(ExitContext& context, uint16_t port, bool write, std::span<uint8_t> element) {
  observe::AccessGuard guard;
  const uint64_t start = cycles_now();
  const PioBus::Claim* claim =
      write ? context.pio.dispatch_write(port, element) : context.pio.dispatch_read(port, element);
  const uint64_t cycles = cycles_now() - start;
  if (claim != nullptr) {
    context.stats.pio_ranges[ExitStats::range_slot(claim->range)].record(write, cycles);
  } else {
    context.stats.unclaimed_pio.increment();
  }
  guard.done({observe::Space::kPio, write, static_cast<uint8_t>(element.size()), context.vcpu, port,
              claim != nullptr ? uint64_t{static_cast<uint16_t>(port - claim->base)} : 0, load_le(element),
              claim != nullptr ? claim->device : nullptr});
}

void observed_mmio(ExitContext& context, uint64_t gpa, bool write, std::span<uint8_t> data) {
  observe::AccessGuard guard;
  const uint64_t start = cycles_now();
  IoDevice* device = write ? context.mmio.write(gpa, data, context.mmio_cache)
                           : context.mmio.read(gpa, data, context.mmio_cache);
  const uint64_t cycles = cycles_now() - start;
  uint64_t offset = 0;
  if (device != nullptr) {
    const MmioBus::Range* range = context.mmio_cache.last;
    offset = gpa - range->base;
    context.stats.mmio_ranges[ExitStats::range_slot(context.mmio.index_of(range))].record(write, cycles);
  } else {
    context.stats.unclaimed_mmio.increment();
  }
  guard.done({observe::Space::kMmio, write, static_cast<uint8_t>(data.size()), context.vcpu, gpa, offset,
              load_le(data), device});
}

// kStats: count per range and time the device (production: always). kObserve: look at the
// observe mask (production: always). Both off / only kStats exist for the benchmark's baselines.
template <bool kStats, bool kObserve>
ExitAction handle_io(kvm_run& run, ExitContext& context) {
  const auto& io = run.io;
  const uint32_t size = io.size;
  if (size != 1 && size != 2 && size != 4) return ExitAction::kBadExit;
  // String and repeated I/O arrive as `count` elements back to back at data_offset.
  const uint64_t bytes = uint64_t{io.count} * size;
  if (io.data_offset < sizeof(kvm_run) || io.data_offset > context.run_size ||
      bytes > context.run_size - io.data_offset) {
    return ExitAction::kBadExit;
  }
  // SAFETY: [data_offset, data_offset + bytes) was checked against the mapped run area.
  uint8_t* data = reinterpret_cast<uint8_t*>(&run) + io.data_offset;
  const bool write = io.direction == KVM_EXIT_IO_OUT;
  for (uint32_t i = 0; i < io.count; ++i) {
    std::span<uint8_t> element(data + uint64_t{i} * size, size);
    (write ? context.stats.pio_writes : context.stats.pio_reads).increment();
    if (kObserve && observe::any()) [[unlikely]] {
      observed_pio(context, io.port, write, element);
      continue;
    }
    const bool timed = kStats && context.stats.take_timing_sample();
    const uint64_t start = timed ? cycles_now() : 0;
    // One slot lookup: the claim that dispatched also names the statistics slot.
    const PioBus::Claim* claim =
        write ? context.pio.dispatch_write(io.port, element) : context.pio.dispatch_read(io.port, element);
    if (claim == nullptr) {
      context.stats.unclaimed_pio.increment();
    } else if (kStats) {
      DeviceExitStats& range = context.stats.pio_ranges[ExitStats::range_slot(claim->range)];
      range.count(write);
      if (timed) range.time(cycles_now() - start);
    }
  }
  return ExitAction::kContinue;
}

template <bool kStats, bool kObserve>
ExitAction handle_mmio(kvm_run& run, ExitContext& context) {
  auto& mmio = run.mmio;
  if (mmio.len == 0 || mmio.len > sizeof(mmio.data)) return ExitAction::kBadExit;
  std::span<uint8_t> data(mmio.data, mmio.len);
  const bool write = mmio.is_write != 0;
  (write ? context.stats.mmio_writes : context.stats.mmio_reads).increment();
  if (kObserve && observe::any()) [[unlikely]] {
    observed_mmio(context, mmio.phys_addr, write, data);
    return ExitAction::kContinue;
  }
  const bool timed = kStats && context.stats.take_timing_sample();
  const uint64_t start = timed ? cycles_now() : 0;
  IoDevice* device = write ? context.mmio.write(mmio.phys_addr, data, context.mmio_cache)
                           : context.mmio.read(mmio.phys_addr, data, context.mmio_cache);
  if (device == nullptr) {
    context.stats.unclaimed_mmio.increment();
  } else if (kStats) {
    DeviceExitStats& range =
        context.stats.mmio_ranges[ExitStats::range_slot(context.mmio.index_of(context.mmio_cache.last))];
    range.count(write);
    if (timed) range.time(cycles_now() - start);
  }
  return ExitAction::kContinue;
}

template <bool kStats, bool kObserve>
ExitAction dispatch_exit(kvm_run& run, ExitContext& context) {
  if (run.exit_reason < ExitStats::kReasons) {
    context.stats.by_reason[run.exit_reason].increment();
  } else {
    context.stats.unknown_reason.increment();
  }
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return handle_io<kStats, kObserve>(run, context);
    case KVM_EXIT_MMIO:
      return handle_mmio<kStats, kObserve>(run, context);
    case KVM_EXIT_HLT:
      return ExitAction::kHalt;
    case KVM_EXIT_SHUTDOWN:
      return ExitAction::kTripleFault;
    case KVM_EXIT_SYSTEM_EVENT:
      switch (run.system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
          return ExitAction::kPowerOff;
        case KVM_SYSTEM_EVENT_RESET:
          return ExitAction::kReset;
        case KVM_SYSTEM_EVENT_CRASH:
          return ExitAction::kGuestCrash;
        default:
          return ExitAction::kBadExit;
      }
    case KVM_EXIT_INTERNAL_ERROR:
      return ExitAction::kInternalError;
    case KVM_EXIT_FAIL_ENTRY:
      return ExitAction::kFailEntry;
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      // A signal or an interrupt window: nothing to emulate, run again.
      return ExitAction::kContinue;
    default:
      return ExitAction::kBadExit;
  }
}

}  // namespace

ExitAction handle_exit(kvm_run& run, ExitContext& context) { return dispatch_exit<true, true>(run, context); }

ExitAction handle_exit_baseline_for_benchmark(kvm_run& run, ExitContext& context, bool with_stats) {
  return with_stats ? dispatch_exit<true, false>(run, context) : dispatch_exit<false, false>(run, context);
}

const char* exit_action_name(ExitAction action) {
  switch (action) {
    case ExitAction::kContinue: return "continue";
    case ExitAction::kHalt: return "halt";
    case ExitAction::kTripleFault: return "triple fault";
    case ExitAction::kPowerOff: return "power off";
    case ExitAction::kReset: return "reset";
    case ExitAction::kGuestCrash: return "guest crash";
    case ExitAction::kInternalError: return "internal error";
    case ExitAction::kFailEntry: return "entry failure";
    case ExitAction::kBadExit: return "unhandled exit";
  }
  return "?";
}

const char* kvm_exit_reason_name(uint32_t reason) {
  switch (reason) {
    case KVM_EXIT_UNKNOWN: return "UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "EXCEPTION";
    case KVM_EXIT_IO: return "IO";
    case KVM_EXIT_HYPERCALL: return "HYPERCALL";
    case KVM_EXIT_DEBUG: return "DEBUG";
    case KVM_EXIT_HLT: return "HLT";
    case KVM_EXIT_MMIO: return "MMIO";
    case KVM_EXIT_IRQ_WINDOW_OPEN: return "IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
    case KVM_EXIT_INTR: return "INTR";
    case KVM_EXIT_SET_TPR: return "SET_TPR";
    case KVM_EXIT_TPR_ACCESS: return "TPR_ACCESS";
    case KVM_EXIT_NMI: return "NMI";
    case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT: return "SYSTEM_EVENT";
    case KVM_EXIT_IOAPIC_EOI: return "IOAPIC_EOI";
    case KVM_EXIT_X86_RDMSR: return "X86_RDMSR";
    case KVM_EXIT_X86_WRMSR: return "X86_WRMSR";
    default: return "OTHER";
  }
}

}  // namespace kvpc
