// VmBackend: the machine-wide half of an accelerator (KVM, or the software emulator).
//
// Owns what is per-VM rather than per-vCPU: memory slots, interrupt lines, ioeventfds.
// Set-up methods (map_memory, create_vcpu) run before the vCPUs start; add_ioeventfd and
// remove_ioeventfd run at set-up and, when the guest moves a PCI BAR, on the vCPU thread that
// wrote the BAR (PciBarMapper serialises them machine-wide); set_irq() is safe from any
// thread at any time and never allocates.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "vmm/guest_memory.h"
#include "vmm/irq_line.h"
#include "vmm/observe.h"
#include "vmm/result.h"
#include "vmm/state_writer.h"
#include "vmm/vcpu_backend.h"

namespace kvpc {

enum class IoSpace { kPort, kMmio };

class VmBackend {
 public:
  virtual ~VmBackend() = default;

  virtual std::string_view accelerator() const = 0;  // "kvm" or "emu"
  virtual Status map_memory(const GuestMemory& memory) = 0;
  virtual Result<std::unique_ptr<VcpuBackend>> create_vcpu(uint32_t index) = 0;

  // Which 4 KiB pages of `region` (one added with log_dirty, mapped by map_memory) the guest
  // wrote since the previous call: bit i of `bitmap` (word i / 64, bit i % 64) is page i.
  // Clears the log. `bitmap` must hold (pages + 63) / 64 words. Safe from any thread while
  // vCPUs run (KVM: KVM_GET_DIRTY_LOG; emu: an atomic bitmap its store path marks).
  virtual Status fetch_dirty_log(const MemoryRegion& region, std::span<uint64_t> bitmap) = 0;

  // The guest's TSC rate in kHz when the accelerator knows it (KVM: KVM_GET_TSC_KHZ), so a
  // Linux guest can be told it instead of calibrating (vmm/boot/linux_cmdline.h). Set-up
  // thread only, before the vCPUs run.
  virtual std::optional<uint32_t> tsc_khz() { return std::nullopt; }

  // Drives interrupt line `gsi` of the interrupt controller (PIC pins 0-15, IOAPIC 0-23).
  virtual void set_irq(uint32_t gsi, bool asserted) = 0;

  // A guest write of `length` bytes at `address` (matching `datamatch` if given) signals
  // `eventfd` instead of exiting to the VMM. The fd stays owned by the caller.
  virtual Status add_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                               std::optional<uint64_t> datamatch) = 0;

  // `kvpc inspect`: the interrupt controllers and timers the accelerator owns (KVM's in-kernel
  // PIC/IOAPIC/PIT, the emulator's 8259 pair). Any thread, while the VM exists.
  virtual void describe(StateWriter&) {}
  // Undoes an add_ioeventfd with the same arguments (the guest moved the BAR it lives in).
  // The default says the accelerator cannot: callers then keep the doorbell on the exit path
  // (every doorbell register also signals its eventfd from IoDevice::write).
  virtual Status remove_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                                  std::optional<uint64_t> datamatch) {
    (void)space, (void)address, (void)length, (void)eventfd, (void)datamatch;
    return make_error("this accelerator cannot remove an ioeventfd");
  }
};

// An IrqLine wired to one GSI of a VmBackend.
class GsiIrqLine final : public IrqLine {
 public:
  GsiIrqLine(VmBackend& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool asserted) override {
    // Devices re-state their line's level after every register access; only a change is an
    // interrupt event worth a trace line or a record (and the same rule makes a replay, whose
    // fresh devices start low, comparable). The level is the owning device's (one writer).
    if (level_.load(std::memory_order_relaxed) != asserted) {
      level_.store(asserted, std::memory_order_relaxed);
      if (observe::any()) [[unlikely]] observe::irq(gsi_, asserted);  // trace / record (vmm/observe.h)
    }
    vm_.set_irq(gsi_, asserted);
  }
  uint32_t gsi() const { return gsi_; }

 private:
  VmBackend& vm_;
  uint32_t gsi_;
  std::atomic<bool> level_{false};
};

}  // namespace kvpc
