#include "vmm/kvm_vm.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "vmm/kvm_cpuid.h"
#include "vmm/kvm_vcpu.h"

namespace kvpc {

namespace {

Status ioctl_error(const char* name, int err) {
  return make_error(fmt::format("{} failed: {}", name, strerror(err)));
}

}  // namespace

KvmVm::KvmVm(KvmSystem kvm, UniqueFd vm_fd, uint32_t vcpu_count)
    : kvm_(std::move(kvm)), vm_fd_(std::move(vm_fd)), vcpu_count_(vcpu_count) {}

Result<std::unique_ptr<KvmVm>> KvmVm::create(KvmSystem kvm, uint32_t vcpu_count) {
  int max_vcpus = kvm.check_extension(KVM_CAP_MAX_VCPUS);
  if (max_vcpus <= 0) max_vcpus = kvm.check_extension(KVM_CAP_NR_VCPUS);
  if (max_vcpus > 0 && vcpu_count > static_cast<uint32_t>(max_vcpus)) {
    return make_error(fmt::format("this KVM supports at most {} vCPUs, {} were asked for", max_vcpus, vcpu_count));
  }
  int fd = ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  if (fd < 0) return ioctl_error("KVM_CREATE_VM", errno).error();
  auto vm = std::unique_ptr<KvmVm>(new KvmVm(std::move(kvm), UniqueFd(fd), vcpu_count));

  if (ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &kIdentityMapAddress) < 0 && errno != EINVAL) {
    return ioctl_error("KVM_SET_IDENTITY_MAP_ADDR", errno).error();
  }
  if (ioctl(fd, KVM_SET_TSS_ADDR, static_cast<unsigned long>(kTssAddress)) < 0) {
    return ioctl_error("KVM_SET_TSS_ADDR", errno).error();
  }
  if (ioctl(fd, KVM_CREATE_IRQCHIP, 0) < 0) return ioctl_error("KVM_CREATE_IRQCHIP", errno).error();
  kvm_pit_config pit{};
  pit.flags = KVM_PIT_SPEAKER_DUMMY;
  if (ioctl(fd, KVM_CREATE_PIT2, &pit) < 0) return ioctl_error("KVM_CREATE_PIT2", errno).error();
  // Best effort: report the failing instruction's bytes in emulation failures.
  if (vm->kvm_.check_extension(KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0) {
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE;
    cap.args[0] = 1;
    ioctl(fd, KVM_ENABLE_CAP, &cap);
  }
  if (auto status = vm->build_cpuid(); !status) return status.error();
  return vm;
}

Status KvmVm::build_cpuid() {
  constexpr uint32_t kMaxEntries = 256;
  std::vector<uint8_t> buffer(sizeof(kvm_cpuid2) + kMaxEntries * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buffer.data());
  cpuid->nent = kMaxEntries;
  if (ioctl(kvm_.fd(), KVM_GET_SUPPORTED_CPUID, cpuid) < 0) return ioctl_error("KVM_GET_SUPPORTED_CPUID", errno);
  // What the guest sees differs from KVM's table in documented ways (vmm/kvm_cpuid.h).
  cpuid_ = guest_cpuid(std::span<const kvm_cpuid_entry2>(cpuid->entries, cpuid->nent));
  return ok_status();
}

Status KvmVm::map_memory(const GuestMemory& memory) {
  for (const auto& region : memory.regions()) {
    kvm_userspace_memory_region slot{};
    slot.slot = region.slot;
    slot.flags = region.read_only ? KVM_MEM_READONLY : 0;
    if (region.log_dirty) slot.flags |= KVM_MEM_LOG_DIRTY_PAGES;
    slot.guest_phys_addr = region.gpa;
    slot.memory_size = region.size;
    slot.userspace_addr = reinterpret_cast<uint64_t>(region.host);
    if (ioctl(vm_fd_.get(), KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
      return make_error(fmt::format("KVM_SET_USER_MEMORY_REGION for '{}' at {:#x}+{:#x} failed: {}", region.name,
                                    region.gpa, region.size, strerror(errno)));
    }
  }
  return ok_status();
}

Status KvmVm::fetch_dirty_log(const MemoryRegion& region, std::span<uint64_t> bitmap) {
  if (!region.log_dirty) return make_error(fmt::format("memory region '{}' has no dirty log", region.name));
  const uint64_t pages = region.size / 4096;
  if (bitmap.size() < (pages + 63) / 64) return make_error("dirty bitmap too small for the region");
  kvm_dirty_log log{};
  log.slot = region.slot;
  // KVM fills ceil(pages / 64) 64-bit words, the size checked above.
  log.dirty_bitmap = bitmap.data();
  if (ioctl(vm_fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) return ioctl_error("KVM_GET_DIRTY_LOG", errno);
  return ok_status();
}

std::optional<uint32_t> KvmVm::tsc_khz() {
  if (kvm_.check_extension(KVM_CAP_GET_TSC_KHZ) <= 0) return std::nullopt;
  if (kvm_.check_extension(KVM_CAP_VM_TSC_CONTROL) > 0) {
    int khz = ioctl(vm_fd_.get(), KVM_GET_TSC_KHZ, 0);
    if (khz > 0) return static_cast<uint32_t>(khz);
  }
  if (!early_vcpu0_) {
    auto vcpu = KvmVcpu::create(vm_fd_.get(), 0, kvm_.vcpu_mmap_size(), cpuid_);
    if (!vcpu) return std::nullopt;  // create_vcpu(0) reports the failure when it retries
    early_vcpu0_ = std::move(vcpu).value();
  }
  int khz = ioctl(early_vcpu0_->fd(), KVM_GET_TSC_KHZ, 0);
  if (khz <= 0) return std::nullopt;
  return static_cast<uint32_t>(khz);
}

Result<std::unique_ptr<VcpuBackend>> KvmVm::create_vcpu(uint32_t index) {
  if (index >= vcpu_count_) return make_error(fmt::format("vCPU {} is beyond the {} configured", index, vcpu_count_));
  if (index == 0 && early_vcpu0_) return std::unique_ptr<VcpuBackend>(std::move(early_vcpu0_));
  auto vcpu = KvmVcpu::create(vm_fd_.get(), index, kvm_.vcpu_mmap_size(), cpuid_);
  if (!vcpu) return vcpu.error();
  return std::unique_ptr<VcpuBackend>(std::move(vcpu).value());
}

void KvmVm::set_irq(uint32_t gsi, bool asserted) {
  kvm_irq_level level{};
  level.irq = gsi;
  level.level = asserted ? 1 : 0;
  // Failure here means a GSI outside the irqchip: a wiring bug caught by the board tests.
  ioctl(vm_fd_.get(), KVM_IRQ_LINE, &level);
}

namespace {
kvm_ioeventfd ioeventfd_request(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                                std::optional<uint64_t> datamatch) {
  kvm_ioeventfd request{};
  request.addr = address;
  request.len = length;
  request.fd = eventfd;
  request.flags = space == IoSpace::kPort ? KVM_IOEVENTFD_FLAG_PIO : 0;
  if (datamatch) {
    request.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    request.datamatch = *datamatch;
  }
  return request;
}
}  // namespace

Status KvmVm::add_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                            std::optional<uint64_t> datamatch) {
  kvm_ioeventfd request = ioeventfd_request(space, address, length, eventfd, datamatch);
  if (ioctl(vm_fd_.get(), KVM_IOEVENTFD, &request) < 0) {
    return make_error(fmt::format("KVM_IOEVENTFD at {:#x} (len {}) failed: {}", address, length, strerror(errno)));
  }
  return ok_status();
}


void KvmVm::describe(StateWriter& out) {
  for (uint32_t chip_id : {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE}) {
    kvm_irqchip chip{};
    chip.chip_id = chip_id;
    out.begin(chip_id == KVM_IRQCHIP_PIC_MASTER ? "pic_master" : "pic_slave");
    if (ioctl(vm_fd_.get(), KVM_GET_IRQCHIP, &chip) < 0) {
      out.text("error", fmt::format("KVM_GET_IRQCHIP: {}", strerror(errno)));
    } else {
      const kvm_pic_state& pic = chip.chip.pic;
      out.number("irr", pic.irr);
      out.number("isr", pic.isr);
      out.number("imr", pic.imr);
      out.number("last_irr", pic.last_irr);
      out.number("elcr", pic.elcr);
      out.number("irq_base", pic.irq_base);
      out.number("priority_add", pic.priority_add);
      out.number("init_state", pic.init_state);
      out.flag("auto_eoi", pic.auto_eoi != 0);
      out.flag("special_mask", pic.special_mask != 0);
    }
    out.end();
  }
  kvm_irqchip ioapic{};
  ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  out.begin("ioapic");
  if (ioctl(vm_fd_.get(), KVM_GET_IRQCHIP, &ioapic) < 0) {
    out.text("error", fmt::format("KVM_GET_IRQCHIP: {}", strerror(errno)));
  } else {
    const kvm_ioapic_state& state = ioapic.chip.ioapic;
    out.number("base_address", state.base_address);
    out.number("id", state.id);
    out.number("irr", state.irr);
    out.begin("redirection");
    for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; ++pin) out.number(fmt::format("{}", pin), state.redirtbl[pin].bits);
    out.end();
  }
  out.end();
  kvm_pit_state2 pit{};
  out.begin("pit");
  if (ioctl(vm_fd_.get(), KVM_GET_PIT2, &pit) < 0) {
    out.text("error", fmt::format("KVM_GET_PIT2: {}", strerror(errno)));
  } else {
    for (int i = 0; i < 3; ++i) {
      const kvm_pit_channel_state& channel = pit.channels[i];
      out.begin(fmt::format("channel{}", i));
      out.number("count", channel.count);
      out.number("latched_count", channel.latched_count);
      out.number("mode", channel.mode);
      out.number("rw_mode", channel.rw_mode);
      out.number("bcd", channel.bcd);
      out.number("gate", channel.gate);
      out.end();
    }
    out.number("flags", pit.flags);
  }
  out.end();
}
Status KvmVm::remove_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int eventfd,
                               std::optional<uint64_t> datamatch) {
  // KVM matches the registration to remove on all of address, length, fd, flags and datamatch.
  kvm_ioeventfd request = ioeventfd_request(space, address, length, eventfd, datamatch);
  request.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
  if (ioctl(vm_fd_.get(), KVM_IOEVENTFD, &request) < 0) {
    return make_error(fmt::format("KVM_IOEVENTFD deassign at {:#x} (len {}) failed: {}", address, length,
                                  strerror(errno)));
  }
  return ok_status();
}

}  // namespace kvpc
