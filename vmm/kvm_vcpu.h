// KvmVcpu: one KVM vCPU fd and its mmap'ed kvm_run.
//
// run() is exactly one KVM_RUN ioctl: the only syscall on the exit path. kick() is how
// other threads get the vCPU's attention: it sets immediate_exit (so a KVM_RUN about to
// start returns at once) and sends kKickSignal to the vCPU thread (so one in progress
// returns EINTR). The signal's handler does nothing; install_kick_handler() sets it up once.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <memory>
#include <vector>

#include "vmm/unique_fd.h"
#include "vmm/vcpu_backend.h"

namespace kvpc {

class KvmVcpu final : public VcpuBackend {
 public:
  static int kick_signal();
  static void install_kick_handler();

  static Result<std::unique_ptr<KvmVcpu>> create(int vm_fd, uint32_t index, int mmap_size,
                                                 const std::vector<kvm_cpuid_entry2>& cpuid);
  ~KvmVcpu() override;

  uint32_t index() const override { return index_; }
  kvm_run* run_state() override { return run_; }
  int run() override;
  Status set_entry_state(const CpuEntryState& state) override;
  std::string dump_registers() override;
  Result<VcpuRegisters> read_registers() override;
  void kick() override;
  size_t run_size() const override { return static_cast<size_t>(mmap_size_); }
  // The vCPU fd (the bare KVM_RUN baseline in tests/bench calls the ioctl on it directly).
  int fd() const { return fd_.get(); }
  // Debugger access: straight ioctls on the vCPU fd (KVM allows them from any thread while
  // the vCPU is not inside KVM_RUN).
  Status get_regs(kvm_regs& regs) override;
  Status set_regs(const kvm_regs& regs) override;
  Status get_sregs(kvm_sregs& sregs) override;
  Status set_sregs(const kvm_sregs& sregs) override;
  Status set_guest_debug(const kvm_guest_debug& debug) override;

 private:
  KvmVcpu(UniqueFd fd, uint32_t index, kvm_run* run, int mmap_size);

  UniqueFd fd_;
  uint32_t index_;
  kvm_run* run_;
  int mmap_size_;
  // The thread currently inside run(), for kick(); published before KVM_RUN.
  std::atomic<pthread_t> runner_{};
  std::atomic<bool> has_runner_{false};
};

}  // namespace kvpc
