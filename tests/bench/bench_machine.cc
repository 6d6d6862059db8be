#include "tests/bench/bench_machine.h"

#include <sys/ioctl.h>
#include <x86intrin.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "devices/char_backend.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/emu/emu_vm.h"
#include "vmm/kvm_system.h"
#include "vmm/kvm_vcpu.h"
#include "vmm/kvm_vm.h"
#include "vmm/machine/machine_config.h"
#include "vmm/vcpu_runner.h"

namespace kvpc::bench {

Result<std::unique_ptr<BenchMachine>> BenchMachine::create(const BenchMachineOptions& options) {
  auto machine = std::unique_ptr<BenchMachine>(new BenchMachine());
  auto memory = GuestMemory::create_pc(options.ram_bytes);
  if (!memory) return memory.error();
  machine->memory_ = std::move(memory).value();

  if (options.accelerator == "kvm") {
    auto kvm = KvmSystem::open();
    if (!kvm) return kvm.error();
    auto vm = KvmVm::create(std::move(kvm).value(), 1);
    if (!vm) return vm.error();
    machine->backend_ = std::move(vm).value();
  } else if (options.accelerator == "emu") {
    machine->backend_ = std::make_unique<EmuVm>();
  } else {
    return make_error(fmt::format("unknown accelerator '{}' (kvm or emu)", options.accelerator));
  }

  KernelLoadRequest request;
  request.image = options.image;
  request.path = "(benchmark guest)";
  request.format = options.format;
  request.cmdline = options.cmdline;
  auto entry = load_kernel(request, machine->memory_);
  if (!entry) return entry.error();
  // As Machine::create: the devices' memory (the VGA framebuffer) exists before it is mapped.
  if (auto status = Board::add_device_memory(machine->memory_); !status) return status.error();
  if (auto status = machine->backend_->map_memory(machine->memory_); !status) return status.error();

  CharBackend* console = options.console;
  if (console == nullptr) {
    auto none = make_char_backend("none");
    if (!none) return none.error();
    machine->null_console_ = std::move(none).value();
    console = machine->null_console_.get();
  }
  MachineConfig config;
  auto board = Board::create(config, *machine->backend_, machine->memory_, machine->pio_, machine->mmio_, *machine,
                             console, console);
  if (!board) return board.error();
  machine->board_ = std::move(board).value();
  if (auto status = machine->pio_.add(&machine->sink_, kSinkPort, 1); !status) return status.error();
  if (auto status = machine->mmio_.add(&machine->sink_, kSinkMmio, 0x1000); !status) return status.error();
  machine->pio_.freeze();
  machine->mmio_.freeze();

  auto vcpu = machine->backend_->create_vcpu(0);
  if (!vcpu) return vcpu.error();
  if (auto status = vcpu.value()->set_entry_state(*entry); !status) return status.error();
  machine->vcpu_ = std::move(vcpu).value();
  return machine;
}

BenchMachine::~BenchMachine() = default;

MachineOutcome BenchMachine::run_kvpc_loop(RunObserver& observer, VcpuBackend* vcpu) {
  VcpuBackend& target = vcpu != nullptr ? *vcpu : *vcpu_;
  ObservedVcpu observed(target, observer);
  VcpuRunner runner(observed, pio_, mmio_, control_, {false, target.run_size()});
  runner.loop();
  return control_.wait_finished();
}

uint64_t BenchMachine::run_bare_loop(RunObserver& observer) {
  ObservedVcpu observed(*vcpu_, observer);
  kvm_run* run = observed.run_state();
  uint64_t exits = 0;
  // Under KVM the baseline is literally ioctl(KVM_RUN) on the vCPU fd, nothing of kvpc's in between.
  auto* kvm_vcpu = dynamic_cast<KvmVcpu*>(vcpu_.get());
  while (true) {
    int result;
    if (kvm_vcpu != nullptr) {
      observer.entering_run();
      result = ioctl(kvm_vcpu->fd(), KVM_RUN, 0) < 0 ? -errno : 0;
      observer.run_returned();
    } else {
      result = observed.run();
    }
    if (result == -EINTR) continue;
    if (result < 0) break;
    ++exits;
    const uint32_t reason = run->exit_reason;
    if (reason == KVM_EXIT_MMIO) continue;
    if (reason == KVM_EXIT_IO && run->io.port != 0x501) continue;
    break;
  }
  return exits;
}

void BenchMachine::request_poweroff(int exit_status) {
  control_.finish({MachineOutcome::Kind::kDebugExit, exit_status, "debug exit"});
}

void BenchMachine::request_reset() { control_.finish({MachineOutcome::Kind::kReset, 0, "reset"}); }

uint64_t read_tsc() { return __rdtsc(); }

double tsc_ticks_per_ns() {
  static const double rate = [] {
    const auto wall_start = std::chrono::steady_clock::now();
    const uint64_t tsc_start = read_tsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const uint64_t tsc_end = read_tsc();
    const auto wall_end = std::chrono::steady_clock::now();
    const double ns = static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(wall_end - wall_start).count());
    return static_cast<double>(tsc_end - tsc_start) / ns;
  }();
  return rate;
}

}  // namespace kvpc::bench
