// KvmVm: a KVM virtual machine (VmBackend over KVM ioctls).
//
// Set-up creates the in-kernel irqchip (PIC pair + IOAPIC + per-vCPU LAPIC) and the PIT,
// maps guest memory into slots (ROM read-only), and hides KVM's paravirt CPUID leaves so
// guests behave as on bare hardware (see ../shared/PLATFORM.md: vmcall hangs on the
// nested KVM kvpc is developed on).
//
// Concurrency: set_irq() is KVM_IRQ_LINE, which the kernel serialises; any thread may call
// it. Everything else runs during set-up on one thread.
#pragma once

#include <linux/kvm.h>

#include <memory>
#include <vector>

#include "vmm/kvm_system.h"
#include "vmm/kvm_vcpu.h"
#include "vmm/vm_backend.h"

namespace kvpc {

class KvmVm final : public VmBackend {
 public:
  // KVM needs three pages for the real-mode TSS and one for the identity map (Intel only),
  // somewhere the guest does not use: just below the 16 MiB reserved for firmware images.
  static constexpr uint64_t kIdentityMapAddress = 0xFEFFC000ULL;
  static constexpr uint64_t kTssAddress = 0xFEFFD000ULL;

  static Result<std::unique_ptr<KvmVm>> create(KvmSystem kvm, uint32_t vcpu_count);

  std::string_view accelerator() const override { return "kvm"; }
  Status map_memory(const GuestMemory& memory) override;
  Status fetch_dirty_log(const MemoryRegion& region, std::span<uint64_t> bitmap) override;
  Result<std::unique_ptr<VcpuBackend>> create_vcpu(uint32_t index) override;
  void set_irq(uint32_t gsi, bool asserted) override;
  // KVM_GET_TSC_KHZ: a VM ioctl only with KVM_CAP_VM_TSC_CONTROL, so otherwise asked of
  // vCPU 0, created here early and handed out by create_vcpu(0) later.
  std::optional<uint32_t> tsc_khz() override;
  Status add_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                       std::optional<uint64_t> datamatch) override;
  // The in-kernel PIC pair and IOAPIC (KVM_GET_IRQCHIP) and PIT (KVM_GET_PIT2).
  void describe(StateWriter& out) override;
  Status remove_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                          std::optional<uint64_t> datamatch) override;

  int fd() const { return vm_fd_.get(); }

 private:
  KvmVm(KvmSystem kvm, UniqueFd vm_fd, uint32_t vcpu_count);
  Status build_cpuid();

  KvmSystem kvm_;
  UniqueFd vm_fd_;
  uint32_t vcpu_count_;
  std::vector<kvm_cpuid_entry2> cpuid_;
  std::unique_ptr<KvmVcpu> early_vcpu0_;  // created by tsc_khz(), taken by create_vcpu(0)
};

}  // namespace kvpc
