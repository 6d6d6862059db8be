// KvmSystem: the open /dev/kvm, checked for the API version and capabilities kvpc needs.
//
// Opening is where users meet the most common failure (no KVM, no permission), so the
// error is one sentence that says what is missing and how to fix it, and carries a
// distinct kind so `kvpc run` can exit with its documented status.
#pragma once

#include <linux/kvm.h>

#include <string>

#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace kvpc {

class KvmSystem {
 public:
  static constexpr const char* kDefaultPath = "/dev/kvm";

  // Opens `path` (default /dev/kvm). The error message is meant for the user as is.
  static Result<KvmSystem> open(const std::string& path = kDefaultPath);

  int fd() const { return fd_.get(); }
  // KVM_CHECK_EXTENSION on /dev/kvm; 0 when absent.
  int check_extension(long capability) const;
  int vcpu_mmap_size() const { return vcpu_mmap_size_; }

 private:
  UniqueFd fd_;
  int vcpu_mmap_size_ = 0;
};

// True when `message` came from a failure to open /dev/kvm itself (missing device or
// permission), as opposed to a later KVM error.
bool is_kvm_unavailable_error(const Error& error);

}  // namespace kvpc
