#include "vmm/kvm_cpuid.h"

#include <algorithm>
#include <cstring>

namespace kvpc {
namespace {

constexpr uint32_t kExtendedMaxLeaf = 0x80000000;
constexpr uint32_t kAddressSizesLeaf = 0x80000008;

bool is_paravirt_leaf(uint32_t function) { return function >= 0x40000000 && function < 0x50000000; }

// Leaf 0 spells the vendor in EBX, EDX, ECX. Linux's FXSAVE-leak workaround is for AMD
// (and Hygon, which shares AMD's code there).
bool vendor_takes_fxsave_leak_path(std::span<const kvm_cpuid_entry2> table) {
  for (const auto& entry : table) {
    if (entry.function != 0) continue;
    char vendor[13] = {};
    std::memcpy(vendor, &entry.ebx, 4);
    std::memcpy(vendor + 4, &entry.edx, 4);
    std::memcpy(vendor + 8, &entry.ecx, 4);
    return std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0;
  }
  return false;
}

}  // namespace

std::vector<kvm_cpuid_entry2> guest_cpuid(std::span<const kvm_cpuid_entry2> supported) {
  std::vector<kvm_cpuid_entry2> out;
  out.reserve(supported.size() + 1);
  const bool amd = vendor_takes_fxsave_leak_path(supported);
  bool has_address_sizes = false;
  for (kvm_cpuid_entry2 entry : supported) {
    if (is_paravirt_leaf(entry.function)) continue;
    if (entry.function == 1) entry.ecx |= kCpuidHypervisorBit;
    if (entry.function == kAddressSizesLeaf) {
      has_address_sizes = true;
      if (amd) entry.ebx |= kCpuidXsaveErrorPointers;
    }
    out.push_back(entry);
  }
  if (amd && !has_address_sizes) {
    // The extended range must reach the leaf for the guest to read it.
    auto max = std::find_if(out.begin(), out.end(), [](const auto& e) { return e.function == kExtendedMaxLeaf; });
    if (max == out.end()) {
      kvm_cpuid_entry2 leaf{};
      leaf.function = kExtendedMaxLeaf;
      leaf.eax = kAddressSizesLeaf;
      out.push_back(leaf);
    } else {
      max->eax = std::max(max->eax, kAddressSizesLeaf);
    }
    kvm_cpuid_entry2 leaf{};
    leaf.function = kAddressSizesLeaf;
    leaf.eax = 0x3027;  // 39 physical, 48 linear address bits: a safe minimum for a 64-bit guest
    leaf.ebx = kCpuidXsaveErrorPointers;
    out.push_back(leaf);
  }
  return out;
}

}  // namespace kvpc
