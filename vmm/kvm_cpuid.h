// The CPUID kvpc gives a KVM guest: KVM_GET_SUPPORTED_CPUID's table, adjusted so a guest
// (Linux above all) stays on paths the nested KVM kvpc is developed on can execute
// (../shared/PLATFORM.md, points 4 and 9):
//   - KVM's paravirtual leaves 0x40000000-0x4FFFFFFF are dropped: no kvmclock, no vmcall
//     (vmcall hangs the vCPU there); the guest behaves as on bare hardware.
//   - leaf 1 ECX bit 31 ("hypervisor present") is set, as on any cloud VM; Linux's
//     X86_FEATURE_HYPERVISOR follows it (the test kernel's fpu__drop patch keys on it).
//   - on AMD and Hygon vendors, leaf 0x80000008 EBX bit 2 (XSAVEERPTR, "FXSAVE saves the
//     error pointers") is set, added with the leaf when KVM did not list it: without it
//     Linux applies AMD's FXSAVE-leak workaround (fnclex/fild at CPL0), which is not
//     emulated there. Intel vendors never take that path and are left alone.
// A pure function of the table, so it is unit-tested without /dev/kvm.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace kvpc {

inline constexpr uint32_t kCpuidHypervisorBit = 1u << 31;     // leaf 1 ECX
inline constexpr uint32_t kCpuidXsaveErrorPointers = 1u << 2;  // leaf 0x80000008 EBX

std::vector<kvm_cpuid_entry2> guest_cpuid(std::span<const kvm_cpuid_entry2> supported);

}  // namespace kvpc
