// EmuVm / EmuVcpu: the software-interpreter accelerator (`kvpc run --accel emu`).
//
// They implement VmBackend / VcpuBackend on top of emu::Cpu and emu::Machine, reporting
// every exit in a kvm_run exactly as KVM does (see docs/emulator.md for the subset, the
// modes and what differs). The 8259 PIC pair lives inside EmuVm (ports 0x20-0x21,
// 0xA0-0xA1, 0x4D0-0x4D1 never exit), like KVM's in-kernel irqchip; there is no PIT,
// LAPIC or IOAPIC, so ports 0x40-0x43 exit to userspace like any other port and GSIs
// above 15 are ignored.
//
// Lifetimes: the GuestMemory passed to map_memory() and the EmuVm must outlive every
// EmuVcpu created from it.
//
// Concurrency contract: set-up methods (map_memory, create_vcpu) run before any vCPU runs;
// add/remove_ioeventfd may also run later (a guest moving a BAR), see emu::Machine. set_irq() and EmuVcpu::kick() are safe from any thread at any time
// and never allocate. Everything else on an EmuVcpu belongs to its vCPU thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "vmm/emu/cpu.h"
#include "vmm/emu/machine.h"
#include "vmm/vcpu_backend.h"
#include "vmm/vm_backend.h"

namespace kvpc {

class EmuVcpu final : public VcpuBackend {
 public:
  // kvm_run size: one page of kvm_run plus one page for port I/O data (data_offset 4096).
  static constexpr size_t kRunSize = 8192;

  EmuVcpu(emu::Machine& machine, uint32_t index, kvm_run* run);
  ~EmuVcpu() override;
  EmuVcpu(const EmuVcpu&) = delete;
  EmuVcpu& operator=(const EmuVcpu&) = delete;

  uint32_t index() const override { return index_; }
  kvm_run* run_state() override { return run_; }
  int run() override;
  Status set_entry_state(const CpuEntryState& state) override;
  std::string dump_registers() override;
  Result<VcpuRegisters> read_registers() override;
  void kick() override;
  size_t run_size() const override { return kRunSize; }
  // Debugger access (vmm/emu/emu_debug_access.cc), with KVM's structures and semantics.
  Status get_regs(kvm_regs& regs) override;
  Status set_regs(const kvm_regs& regs) override;
  Status get_sregs(kvm_sregs& sregs) override;
  Status set_sregs(const kvm_sregs& sregs) override;
  Status set_guest_debug(const kvm_guest_debug& debug) override;

  // Direct access to the architectural state (tests, debugging).
  emu::CpuRegs& regs() { return cpu_->regs(); }
  // Instructions retired since creation (for speed measurements).
  uint64_t instructions() const { return cpu_->instructions(); }

 private:
  emu::Machine& machine_;
  uint32_t index_;
  kvm_run* run_;
  // run() while a debugger asked for single-step or breakpoints: one step() at a time.
  int run_debugging();
  // Fills a KVM_EXIT_DEBUG for #DB with `dr6`; returns run()'s 0.
  int debug_exit(uint64_t dr6);

  std::unique_ptr<emu::Cpu> cpu_;
  std::atomic<bool> kicked_{false};
  bool entry_set_ = false;
  // Debugger state (set_guest_debug, only while this vCPU is parked outside run()).
  bool debugging_ = false;       // any KVM_GUESTDBG_* feature on: run() takes run_debugging()
  bool single_step_ = false;     // KVM_GUESTDBG_SINGLESTEP
  uint64_t owed_dr6_ = 0;        // an instruction that exited for I/O/MMIO owes this #DB next run()
  uint64_t resume_rip_ = ~0ULL;  // RF: no instruction breakpoint at this RIP on the next step
};

class EmuVm final : public VmBackend {
 public:
  EmuVm();
  ~EmuVm() override;

  std::string_view accelerator() const override { return "emu"; }
  Status map_memory(const GuestMemory& memory) override;
  Status fetch_dirty_log(const MemoryRegion& region, std::span<uint64_t> bitmap) override;
  Result<std::unique_ptr<VcpuBackend>> create_vcpu(uint32_t index) override;
  void set_irq(uint32_t gsi, bool asserted) override;
  Status add_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                       std::optional<uint64_t> datamatch) override;
  void describe(StateWriter& out) override;
  Status remove_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                          std::optional<uint64_t> datamatch) override;

  // The in-emulator PIC pair (tests inspect it).
  emu::PicPair& pic() { return machine_->pic(); }

 private:
  std::unique_ptr<emu::Machine> machine_;
};

}  // namespace kvpc
