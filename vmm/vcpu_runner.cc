#include "vmm/vcpu_runner.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "vmm/observe.h"
#include "vmm/thread_sandbox.h"

namespace kvpc {

VcpuRunner::VcpuRunner(VcpuBackend& backend, PioBus& pio, MmioBus& mmio, RunControl& control,
                       VcpuRunnerOptions options)
    : backend_(backend), pio_(pio), mmio_(mmio), control_(control), options_(options) {}

VcpuRunner::~VcpuRunner() { join(); }

void VcpuRunner::start() {
  thread_ = std::thread([this] {
    // The seccomp filter (vmm/thread_sandbox.h) goes on before the first guest instruction.
    if (auto sandboxed = enter_thread_sandbox(ThreadRole::kVcpu, fmt::format("vcpu{}", backend_.index()));
        !sandboxed) {
      control_.finish({MachineOutcome::Kind::kHostError, 0, sandboxed.error().message});
      control_.vcpu_exited();
      return;
    }
    loop();
  });
}

void VcpuRunner::join() {
  if (thread_.joinable()) thread_.join();
}

void VcpuRunner::loop() {
  kvm_run* run = backend_.run_state();
  ExitContext context{pio_, mmio_, stats_, options_.run_size};
  if (options_.debug != nullptr) options_.debug->vcpu_starting(backend_);
  context.vcpu = backend_.index();
  observe::set_thread_vcpu(static_cast<int>(backend_.index()));  // for events devices raise here
  while (true) {
    if (control_.attention() && control_.vcpu_check_in()) break;
    int result = backend_.run();
    if (result < 0) {
      if (result == -EINTR || result == -EAGAIN) {
        // A kick (or, for a freshly started AP on some KVMs, EAGAIN once): look again.
        __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELAXED);
        stats_.interrupted.increment();
        if (options_.debug != nullptr) options_.debug->vcpu_interrupted(backend_);
        continue;
      }
      control_.finish({MachineOutcome::Kind::kHostError, 0,
                       fmt::format("KVM_RUN on vCPU {} failed: {}", backend_.index(), strerror(-result))});
      break;
    }
    ExitAction action = handle_exit(*run, context);
    if (action != ExitAction::kContinue && on_action(action)) break;
  }
  control_.vcpu_exited();
}

bool VcpuRunner::on_action(ExitAction action) {
  using Kind = MachineOutcome::Kind;
  switch (action) {
    case ExitAction::kContinue:
      return false;
    case ExitAction::kHalt:
      // Only reached without an in-kernel irqchip: nothing can wake this vCPU again.
      control_.finish({Kind::kHalted, 0, fmt::format("vCPU {} halted with nothing to wake it", backend_.index())});
      return true;
    case ExitAction::kTripleFault:
      if (options_.reset_on_triple_fault) {
        control_.finish({Kind::kReset, 0, "triple fault: resetting as --on-triple-fault reset asks"});
      } else {
        control_.finish({Kind::kTripleFault, 0,
                         fmt::format("the guest triple-faulted (KVM_EXIT_SHUTDOWN)\n{}", backend_.dump_registers())});
      }
      return true;
    case ExitAction::kPowerOff:
      control_.finish({Kind::kPoweredOff, 0, "the guest powered off"});
      return true;
    case ExitAction::kReset:
      control_.finish({Kind::kReset, 0, "the guest asked for a reset"});
      return true;
    case ExitAction::kGuestCrash:
      control_.finish({Kind::kGuestError, 0, fmt::format("the guest reported a crash\n{}", backend_.dump_registers())});
      return true;
    case ExitAction::kInternalError:
      control_.finish({Kind::kGuestError, 0, describe_internal_error()});
      return true;
    case ExitAction::kFailEntry:
      control_.finish({Kind::kGuestError, 0,
                       fmt::format("KVM refused to enter the guest (hardware entry failure reason {:#x})\n{}",
                                   backend_.run_state()->fail_entry.hardware_entry_failure_reason,
                                   backend_.dump_registers())});
      return true;
    case ExitAction::kBadExit:
      if (options_.debug != nullptr && backend_.run_state()->exit_reason == KVM_EXIT_DEBUG) {
        options_.debug->vcpu_debug_exit(backend_);  // the debugger's exit: it decides when we go on
        return false;
      }
      control_.finish({Kind::kGuestError, 0,
                       fmt::format("unhandled or malformed exit {} ({})\n{}", backend_.run_state()->exit_reason,
                                   kvm_exit_reason_name(backend_.run_state()->exit_reason), backend_.dump_registers())});
      return true;
  }
  return true;
}

std::string VcpuRunner::describe_internal_error() {
  const kvm_run* run = backend_.run_state();
  std::string detail;
  switch (run->internal.suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: {
      detail = "instruction emulation failed";
      const auto& failure = run->emulation_failure;
      if ((failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0) {
        detail += "; instruction bytes:";
        for (uint32_t i = 0; i < failure.insn_size && i < sizeof(failure.insn_bytes); ++i) {
          detail += fmt::format(" {:02x}", failure.insn_bytes[i]);
        }
      }
      break;
    }
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      detail = "an exception occurred while delivering another";
      break;
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      detail = "an event could not be delivered";
      break;
    default:
      detail = fmt::format("suberror {}", run->internal.suberror);
      break;
  }
  return fmt::format("internal error on vCPU {}: {}\n{}", backend_.index(), detail, backend_.dump_registers());
}

}  // namespace kvpc
