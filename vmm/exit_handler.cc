#include "vmm/exit_handler.h"

#include <span>

namespace kvpc {

namespace {

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
  for (uint32_t i = 0; i < io.count; ++i) {
    std::span<uint8_t> element(data + uint64_t{i} * size, size);
    if (io.direction == KVM_EXIT_IO_OUT) {
      context.stats.pio_writes.increment();
      if (context.pio.write(io.port, element) == nullptr) context.stats.unclaimed_pio.increment();
    } else {
      context.stats.pio_reads.increment();
      if (context.pio.read(io.port, element) == nullptr) context.stats.unclaimed_pio.increment();
    }
  }
  return ExitAction::kContinue;
}

ExitAction handle_mmio(kvm_run& run, ExitContext& context) {
  auto& mmio = run.mmio;
  if (mmio.len == 0 || mmio.len > sizeof(mmio.data)) return ExitAction::kBadExit;
  std::span<uint8_t> data(mmio.data, mmio.len);
  if (mmio.is_write) {
    context.stats.mmio_writes.increment();
    if (context.mmio.write(mmio.phys_addr, data, context.mmio_cache) == nullptr) context.stats.unclaimed_mmio.increment();
  } else {
    context.stats.mmio_reads.increment();
    if (context.mmio.read(mmio.phys_addr, data, context.mmio_cache) == nullptr) context.stats.unclaimed_mmio.increment();
  }
  return ExitAction::kContinue;
}

}  // namespace

ExitAction handle_exit(kvm_run& run, ExitContext& context) {
  if (run.exit_reason < ExitStats::kReasons) {
    context.stats.by_reason[run.exit_reason].increment();
  } else {
    context.stats.unknown_reason.increment();
  }
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return handle_io(run, context);
    case KVM_EXIT_MMIO:
      return handle_mmio(run, context);
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
