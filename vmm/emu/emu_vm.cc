#include "vmm/emu/emu_vm.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {

EmuVcpu::EmuVcpu(emu::Machine& machine, uint32_t index, kvm_run* run)
    : machine_(machine), index_(index), run_(run), cpu_(std::make_unique<emu::Cpu>(machine, run, index)) {}

EmuVcpu::~EmuVcpu() { munmap(run_, kRunSize); }

Status EmuVcpu::set_entry_state(const CpuEntryState& state) {
  Status s = cpu_->set_entry_state(state);
  if (s) entry_set_ = true;
  return s;
}

std::string EmuVcpu::dump_registers() { return cpu_->dump(); }

void EmuVcpu::kick() {
  kicked_.store(true, std::memory_order_release);
  machine_.wake();
}

int EmuVcpu::run() {
  if (!entry_set_) return -EINVAL;
  // The one branch debugging costs the normal path: everything else lives in run_debugging().
  if (debugging_) [[unlikely]] return run_debugging();
  using emu::StepResult;
  // Complete a pending IN / MMIO read first: the VMM's answer is in kvm_run now.
  if (cpu_->has_pending_completion()) {
    StepResult r = cpu_->step();
    if (r == StepResult::kExit || r == StepResult::kShutdown) return 0;
  }
  if (run_->immediate_exit) {
    run_->exit_reason = KVM_EXIT_INTR;
    return -EINTR;
  }
  // Instructions between looks at the kick flag: small enough for a prompt kick (well
  // under a millisecond), large enough that the atomic costs nothing.
  constexpr int kBatch = 4096;
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      StepResult r = cpu_->step();
      if (r == StepResult::kContinue) continue;
      if (r == StepResult::kExit || r == StepResult::kShutdown) return 0;
      break;  // halted
    }
    if (kicked_.exchange(false, std::memory_order_acq_rel)) {
      run_->exit_reason = KVM_EXIT_INTR;
      return -EINTR;
    }
    if (cpu_->halted()) {
      // HLT blocks in the kernel under KVM (in-kernel irqchip): no KVM_EXIT_HLT here either.
      machine_.wait([&] { return kicked_.load(std::memory_order_acquire) || cpu_->interrupt_ready(); });
    }
  }
}

EmuVm::EmuVm() : machine_(std::make_unique<emu::Machine>()) {}
EmuVm::~EmuVm() = default;

Status EmuVm::map_memory(const GuestMemory& memory) {
  if (memory.regions().empty()) return make_error("emu: guest memory has no regions to map");
  machine_->set_memory(&memory);
  return ok_status();
}

Status EmuVm::fetch_dirty_log(const MemoryRegion& region, std::span<uint64_t> bitmap) {
  if (!region.log_dirty) return make_error(fmt::format("memory region '{}' has no dirty log", region.name));
  if (bitmap.size() < (region.size / 4096 + 63) / 64) return make_error("dirty bitmap too small for the region");
  if (!machine_->fetch_dirty_log(region, bitmap)) {
    return make_error(fmt::format("emu: memory region '{}' was not mapped", region.name));
  }
  return ok_status();
}

Result<std::unique_ptr<VcpuBackend>> EmuVm::create_vcpu(uint32_t index) {
  void* mem = mmap(nullptr, EmuVcpu::kRunSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    return make_error(fmt::format("emu: cannot allocate the kvm_run area of vCPU {}: {}", index, strerror(errno)));
  }
  std::memset(mem, 0, EmuVcpu::kRunSize);
  std::unique_ptr<VcpuBackend> vcpu = std::make_unique<EmuVcpu>(*machine_, index, static_cast<kvm_run*>(mem));
  return vcpu;
}

void EmuVm::set_irq(uint32_t gsi, bool asserted) {
  if (gsi < 16) machine_->pic().set_irq(gsi, asserted);  // no IOAPIC: GSIs 16+ go nowhere
}

Status EmuVm::add_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                            std::optional<uint64_t> datamatch) {
  if (eventfd < 0) return make_error("emu: ioeventfd needs a valid eventfd");
  if (length != 0 && length != 1 && length != 2 && length != 4 && length != 8) {
    return make_error(fmt::format("emu: ioeventfd length {} is not 0, 1, 2, 4 or 8", length));
  }
  if (space == IoSpace::kPort && address > 0xFFFF) {
    return make_error(fmt::format("emu: ioeventfd port {:#x} is beyond 0xffff", address));
  }
  machine_->add_ioeventfd(emu::IoEventFd{space, address, length, eventfd, datamatch});
  return ok_status();
}

Result<VcpuRegisters> EmuVcpu::read_registers() {
  const emu::CpuRegs& r = cpu_->regs();
  VcpuRegisters out;
  // The emulator keeps GPRs in encoding order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..).
  constexpr int kFromEncoding[8] = {emu::kRax, emu::kRbx, emu::kRcx, emu::kRdx, emu::kRsi, emu::kRdi, emu::kRbp, emu::kRsp};
  for (int i = 0; i < 8; ++i) out.gpr[static_cast<size_t>(i)] = r.gpr[static_cast<size_t>(kFromEncoding[i])];
  for (size_t i = 8; i < 16; ++i) out.gpr[i] = r.gpr[i];
  out.rip = r.rip;
  out.rflags = r.rflags;
  out.cr0 = r.cr0;
  out.cr2 = r.cr2;
  out.cr3 = r.cr3;
  out.cr4 = r.cr4;
  out.efer = r.efer;
  auto convert = [](const emu::Segment& in) {
    return VcpuRegisters::Segment{in.selector, in.base, in.limit, in.type, in.dpl, true, in.long_mode, in.big};
  };
  for (size_t i = 0; i < 6; ++i) out.segments[i] = convert(r.seg[i]);
  out.segments[6] = convert(r.tr);
  out.gdt_base = r.gdtr.base;
  out.gdt_limit = r.gdtr.limit;
  out.idt_base = r.idtr.base;
  out.idt_limit = r.idtr.limit;
  return out;
}

void EmuVm::describe(StateWriter& out) {
  out.begin("pic");
  machine_->pic().describe(out);
  out.end();
}
Status EmuVm::remove_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                               std::optional<uint64_t> datamatch) {
  if (!machine_->remove_ioeventfd(emu::IoEventFd{space, address, length, eventfd, datamatch})) {
    return make_error(fmt::format("emu: no ioeventfd at {:#x} (len {}) to remove", address, length));
  }
  return ok_status();
}

}  // namespace kvpc
