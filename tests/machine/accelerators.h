// Machine tests run every guest under each accelerator: "kvm" (real hardware
// virtualization; skipped with the reason when /dev/kvm cannot be opened) and "emu"
// (kvpc's interpreter, which runs everywhere).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "vmm/kvm_system.h"
#include "vmm/machine/machine_config.h"

namespace kvpc::testing {

inline Accelerator accelerator_from_name(const std::string& name) {
  return name == "kvm" ? Accelerator::kKvm : Accelerator::kEmu;
}

// Empty when the accelerator can run here, else the reason it cannot.
inline std::string accelerator_unavailable(const std::string& name) {
  if (name != "kvm") return "";
  auto kvm = KvmSystem::open();
  return kvm ? "" : kvm.error().message;
}

#define KVPC_SKIP_UNLESS_ACCELERATOR(name)                                          \
  do {                                                                              \
    std::string why_not = ::kvpc::testing::accelerator_unavailable(name);           \
    if (!why_not.empty()) GTEST_SKIP() << "skipped: " << why_not;                   \
  } while (0)

inline std::string accelerator_test_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace kvpc::testing
