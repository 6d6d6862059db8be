#include "vmm/machine/machine.h"

#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "guest-firmware/blobs.h"
#include "vmm/boot/firmware_loader.h"
#include "vmm/boot/image_file.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/linux_cmdline.h"
#include "vmm/emu/emu_vm.h"
#include "vmm/kvm_system.h"
#include "vmm/machine/board_disks.h"
#include "vmm/kvm_vm.h"
#include "vmm/observe.h"
#include "vmm/startup_clock.h"

namespace kvpc {

namespace {

constexpr uint64_t kMaxKernelBytes = 512ULL << 20;
constexpr uint64_t kMaxFirmwareBytes = 16ULL << 20;

}  // namespace

Result<std::unique_ptr<VmBackend>> create_accelerator(const MachineConfig& config) {
  if (config.accelerator != Accelerator::kEmu) {
    auto kvm = KvmSystem::open(config.kvm_device);
    if (kvm) {
      auto vm = KvmVm::create(std::move(kvm).value(), config.cpus);
      if (!vm) return vm.error();
      return std::unique_ptr<VmBackend>(std::move(vm).value());
    }
    if (config.accelerator == Accelerator::kKvm) return kvm.error();
  }
  if (config.cpus != 1) {
    return make_error(fmt::format("the emu accelerator runs one vCPU; {} were asked for (use --cpus 1)", config.cpus));
  }
  return std::unique_ptr<VmBackend>(std::make_unique<EmuVm>());
}

Machine::Machine(MachineConfig config, EventLoop& loop, GuestMemory memory, std::unique_ptr<VmBackend> backend)
    : config_(std::move(config)),
      loop_(loop),
      memory_(std::move(memory)),
      backend_(std::move(backend)),
      control_(config_.cpus) {}

Machine::~Machine() {
  if (started_) {
    control_.finish({MachineOutcome::Kind::kStopped, 0, "machine destroyed"});
    for (auto& runner : runners_) runner->join();
  }
}

Result<std::unique_ptr<Machine>> Machine::create(const MachineConfig& config, EventLoop& loop, MachineHooks hooks) {
  if (config.cpus == 0 || config.cpus > 255) {
    return make_error(fmt::format("--cpus {} is out of range (1 to 255)", config.cpus));
  }
  if (config.kernel_path && config.bios_path) {
    return make_error("--kernel and --bios exclude each other: firmware loads its own boot image");
  }
  auto memory = GuestMemory::create_pc(config.ram_bytes);
  if (!memory) return memory.error();
  auto backend = create_accelerator(config);
  if (!backend) return backend.error();

  auto machine = std::unique_ptr<Machine>(
      new Machine(config, loop, std::move(memory).value(), std::move(backend).value()));

  CpuEntryState entry;
  if (auto status = machine->load_boot_image(entry); !status) return status.error();
  if (auto status = Board::add_device_memory(machine->memory_); !status) return status.error();
  if (auto status = machine->backend_->map_memory(machine->memory_); !status) return status.error();

  auto board = Board::create(config, *machine->backend_, machine->memory_, machine->pio_, machine->mmio_, *machine, hooks.serial_output,
                             hooks.debugcon_output);
  if (!board) return board.error();
  machine->board_ = std::move(board).value();
  observe::board_created();  // --record-io marks guest resets in the stream
  machine->pio_.freeze();
  machine->mmio_.freeze();

  for (uint32_t index = 0; index < config.cpus; ++index) {
    auto vcpu = machine->backend_->create_vcpu(index);
    if (!vcpu) return vcpu.error();
    // Only the boot vCPU gets the loader's state; the others wait for INIT/SIPI in KVM.
    if (index == 0) {
      if (auto status = vcpu.value()->set_entry_state(entry); !status) {
        return make_error(fmt::format("setting the boot vCPU's state: {}", status.error().message));
      }
    }
    machine->vcpu_backends_.push_back(std::move(vcpu).value());
  }
  VcpuRunnerOptions options;
  options.reset_on_triple_fault = config.reset_on_triple_fault;
  options.debug = hooks.debug;
  for (auto& vcpu : machine->vcpu_backends_) {
    options.run_size = vcpu->run_size();
    machine->runners_.push_back(
        std::make_unique<VcpuRunner>(*vcpu, machine->pio_, machine->mmio_, machine->control_, options));
  }
  Machine* raw = machine.get();
  machine->control_.set_kicker([raw] {
    for (auto& vcpu : raw->vcpu_backends_) vcpu->kick();
  });
  return machine;
}

Status Machine::load_boot_image(CpuEntryState& entry) {
  if (config_.bios_path) {
    auto image = read_image_file(*config_.bios_path, kMaxFirmwareBytes);
    if (!image) return make_error(fmt::format("--bios: {}", image.error().message));
    auto loaded = load_firmware(*image, memory_);
    if (!loaded) return make_error(fmt::format("--bios {}: {}", *config_.bios_path, loaded.error().message));
    entry = *loaded;
    return ok_status();
  }
  std::vector<uint8_t> kernel_bytes;
  std::vector<uint8_t> initrd_bytes;
  KernelLoadRequest request;
  request.cmdline = config_.cmdline;
  request.cpus = config_.cpus;
  // Linux kernels without ACPI learn from the MP table which I/O APIC pin each PCI
  // function's INTx reaches; these are the board's PCI functions with an interrupt.
  request.pci_interrupts = {{static_cast<uint8_t>(BoardPorts::kIntegrationSlot), 0,
                             static_cast<uint8_t>(BoardPorts::kIntegrationIrq)}};
  for (size_t i = 0; i < config_.disks.size(); ++i) {
    request.pci_interrupts.push_back({static_cast<uint8_t>(BoardDisks::kFirstSlot + i), 0,
                                      static_cast<uint8_t>(PciIntxLines::unrouted_gsi(BoardDisks::kFirstSlot +
                                                                                      static_cast<int>(i)))});
  }
  if (config_.kernel_path) {
    auto image = read_image_file(*config_.kernel_path, kMaxKernelBytes);
    if (!image) return make_error(fmt::format("--kernel: {}", image.error().message));
    kernel_bytes = std::move(image).value();
    request.image = kernel_bytes;
    request.path = *config_.kernel_path;
    request.format = config_.kernel_format;
    // A Linux kernel run without --cmdline gets the line that boots it here (console on
    // ttyS0, the test kernel's patch switches, the TSC rate): vmm/boot/linux_cmdline.h.
    if (request.cmdline.empty()) {
      auto format = request.format == KernelFormat::kAuto ? detect_kernel_format(request.image)
                                                          : Result<KernelFormat>(request.format);
      if (format && (*format == KernelFormat::kLinuxPvh || *format == KernelFormat::kLinuxBzImage)) {
        request.cmdline = default_linux_cmdline(backend_->tsc_khz());
      }
    }
  } else {
    request.image = firmware::builtin_guest();
    request.path = "(built-in guest)";
    request.format = KernelFormat::kKvpc64;
  }
  if (config_.initrd_path) {
    auto initrd = read_image_file(*config_.initrd_path, kMaxKernelBytes);
    if (!initrd) return make_error(fmt::format("--initrd: {}", initrd.error().message));
    initrd_bytes = std::move(initrd).value();
    request.initrd = std::span<const uint8_t>(initrd_bytes);
    request.initrd_path = *config_.initrd_path;
  }
  auto loaded = load_kernel(request, memory_);
  if (!loaded) return loaded.error();  // load_kernel's messages already name the file
  entry = *loaded;
  return ok_status();
}

namespace {

// Start-up measurement for benchmarks: when KVPC_EXEC_NS holds the wall-clock time (ns since
// the epoch) taken just before `kvpc` was exec'ed, report how long it took to get here, the
// moment the vCPU threads are released into guest code.
void report_startup_latency() {
  const char* exec_ns = std::getenv("KVPC_EXEC_NS");
  if (exec_ns == nullptr) return;
  char* end = nullptr;
  unsigned long long start = std::strtoull(exec_ns, &end, 10);
  if (end == exec_ns) return;
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  double in_process_ms = 0;
  if (auto since_main = since_main_entered()) in_process_ms = static_cast<double>(since_main->count()) / 1e6;
  fmt::print(stderr, "kvpc: startup: {:.3f} ms from exec to the first guest instruction ({:.3f} ms of it after main())\n",
             static_cast<double>(static_cast<unsigned long long>(now) - start) / 1e6, in_process_ms);
}

}  // namespace

void Machine::start() {
  started_ = true;
  report_startup_latency();
  if (auto status = board_->start_services(loop_); !status) {
    control_.finish({MachineOutcome::Kind::kHostError, 0, fmt::format("integration services: {}", status.error().message)});
    return;
  }
  for (auto& runner : runners_) runner->start();
}

MachineOutcome Machine::wait() {
  MachineOutcome outcome = control_.wait_finished();
  for (auto& runner : runners_) runner->join();
  board_->stop_services();
  return outcome;
}

Status Machine::fetch_framebuffer_dirty_log(std::span<uint64_t> bitmap) {
  const MemoryRegion* region = memory_.region_at(BoardPorts::kVgaFramebuffer);
  if (region == nullptr) return make_error("this machine has no VGA framebuffer");
  return backend_->fetch_dirty_log(*region, bitmap);
}

void Machine::request_poweroff(int exit_status) {
  if (exit_status == 0) {
    control_.finish({MachineOutcome::Kind::kPoweredOff, 0, "the guest powered off"});
  } else {
    control_.finish({MachineOutcome::Kind::kDebugExit, exit_status,
                     fmt::format("the guest exited through isa-debug-exit with status {}", exit_status)});
  }
}

void Machine::request_reset() { control_.finish({MachineOutcome::Kind::kReset, 0, "the guest asked for a reset"}); }

}  // namespace kvpc
