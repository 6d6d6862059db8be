#include "vmm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {

namespace {
constexpr const char* kUnavailableTag = "KVM is not available: ";
}

bool is_kvm_unavailable_error(const Error& error) {
  return error.message.rfind(kUnavailableTag, 0) == 0;
}

Result<KvmSystem> KvmSystem::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      return make_error(fmt::format(
          "{}{} does not exist: enable virtualization (VT-x/AMD-V) in the firmware and load the kvm_intel or "
          "kvm_amd module, or run the guest with --accel emu",
          kUnavailableTag, path));
    }
    if (err == EACCES || err == EPERM) {
      return make_error(fmt::format(
          "{}permission denied opening {}: add your user to the 'kvm' group (sudo usermod -aG kvm $USER, then log in "
          "again), or run the guest with --accel emu",
          kUnavailableTag, path));
    }
    return make_error(fmt::format("{}cannot open {}: {}", kUnavailableTag, path, strerror(err)));
  }
  KvmSystem kvm;
  kvm.fd_.reset(fd);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return make_error(fmt::format("{}{} speaks KVM API version {}, kvpc needs {}", kUnavailableTag, path, version,
                                  KVM_API_VERSION));
  }
  struct Required {
    long capability;
    const char* name;
  };
  static constexpr Required kRequired[] = {
      {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"}, {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
      {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},     {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
      {KVM_CAP_PIT2, "KVM_CAP_PIT2"},               {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
  };
  for (const auto& required : kRequired) {
    if (kvm.check_extension(required.capability) <= 0) {
      return make_error(fmt::format("{}the kernel's KVM lacks {}, which kvpc needs", kUnavailableTag, required.name));
    }
  }
  kvm.vcpu_mmap_size_ = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (kvm.vcpu_mmap_size_ < static_cast<int>(sizeof(kvm_run))) {
    return make_error(fmt::format("KVM_GET_VCPU_MMAP_SIZE failed: {}", strerror(errno)));
  }
  return kvm;
}

int KvmSystem::check_extension(long capability) const {
  int r = ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

}  // namespace kvpc
