// The CPUID a KVM guest gets (vmm/kvm_cpuid.h), from hand-made KVM_GET_SUPPORTED_CPUID tables:
// no /dev/kvm needed.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "vmm/kvm_cpuid.h"

namespace kvpc {
namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t eax = 0, uint32_t ebx = 0, uint32_t ecx = 0, uint32_t edx = 0) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.eax = eax, e.ebx = ebx, e.ecx = ecx, e.edx = edx;
  return e;
}

kvm_cpuid_entry2 vendor_leaf(const char (&vendor)[13]) {
  kvm_cpuid_entry2 e = leaf(0, 0xD);
  std::memcpy(&e.ebx, vendor, 4);
  std::memcpy(&e.edx, vendor + 4, 4);
  std::memcpy(&e.ecx, vendor + 8, 4);
  return e;
}

std::optional<kvm_cpuid_entry2> find(const std::vector<kvm_cpuid_entry2>& table, uint32_t function) {
  for (const auto& e : table) {
    if (e.function == function) return e;
  }
  return std::nullopt;
}

std::vector<kvm_cpuid_entry2> kvm_table(const char (&vendor)[13]) {
  return {vendor_leaf(vendor),
          leaf(1, 0x00A20F12, 0x00000800, 0x7EFA320B, 0x178BFBFF),
          leaf(0x40000000, 0x40000001, 0x4B4D564B, 0x564B4D56, 0x4D),  // "KVMKVMKVM"
          leaf(0x40000001, 0x01007AFB),
          leaf(0x80000000, 0x80000021),
          leaf(0x80000008, 0x3030, 0x10)};
}

TEST(KvmCpuidTest, KvmParavirtLeavesAreGone) {
  auto table = guest_cpuid(kvm_table("AuthenticAMD"));
  for (const auto& e : table) {
    EXPECT_FALSE(e.function >= 0x40000000 && e.function < 0x50000000) << std::hex << e.function;
  }
  EXPECT_EQ(table.size(), 4u);
}

TEST(KvmCpuidTest, HypervisorBitIsSetAndTheRestOfLeafOneKept) {
  auto table = guest_cpuid(kvm_table("GenuineIntel"));
  auto one = find(table, 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->ecx, 0x7EFA320Bu | kCpuidHypervisorBit);
  EXPECT_EQ(one->eax, 0x00A20F12u);
  EXPECT_EQ(one->edx, 0x178BFBFFu);
}

TEST(KvmCpuidTest, AmdGuestsSeeXsaveErrorPointers) {
  for (const auto& vendor : {"AuthenticAMD", "HygonGenuine"}) {
    char name[13];
    std::memcpy(name, vendor, 13);
    auto table = guest_cpuid(kvm_table(reinterpret_cast<const char(&)[13]>(name)));
    auto sizes = find(table, 0x80000008);
    ASSERT_TRUE(sizes) << vendor;
    EXPECT_EQ(sizes->ebx, 0x10u | kCpuidXsaveErrorPointers) << vendor;
    EXPECT_EQ(sizes->eax, 0x3030u) << vendor;
  }
}

TEST(KvmCpuidTest, IntelGuestsAreLeftAloneInTheExtendedLeaves) {
  auto table = guest_cpuid(kvm_table("GenuineIntel"));
  auto sizes = find(table, 0x80000008);
  ASSERT_TRUE(sizes);
  EXPECT_EQ(sizes->ebx, 0x10u);
}

TEST(KvmCpuidTest, AmdTableWithoutTheAddressSizesLeafGetsOneAndTheRangeReachesIt) {
  std::vector<kvm_cpuid_entry2> supported = {vendor_leaf("AuthenticAMD"), leaf(1), leaf(0x80000000, 0x80000001)};
  auto table = guest_cpuid(supported);
  auto max = find(table, 0x80000000);
  ASSERT_TRUE(max);
  EXPECT_EQ(max->eax, 0x80000008u);
  auto sizes = find(table, 0x80000008);
  ASSERT_TRUE(sizes);
  EXPECT_EQ(sizes->ebx, kCpuidXsaveErrorPointers);
  EXPECT_EQ(sizes->eax & 0xFF, 39u);  // physical address bits
}

TEST(KvmCpuidTest, AmdTableWithoutAnyExtendedLeafGetsTheRange) {
  std::vector<kvm_cpuid_entry2> supported = {vendor_leaf("AuthenticAMD"), leaf(1)};
  auto table = guest_cpuid(supported);
  auto max = find(table, 0x80000000);
  ASSERT_TRUE(max);
  EXPECT_EQ(max->eax, 0x80000008u);
  ASSERT_TRUE(find(table, 0x80000008));
}

TEST(KvmCpuidTest, HigherExtendedRangeIsNotLowered) {
  std::vector<kvm_cpuid_entry2> supported = {vendor_leaf("AuthenticAMD"), leaf(0x80000000, 0x80000021)};
  auto table = guest_cpuid(supported);
  EXPECT_EQ(find(table, 0x80000000)->eax, 0x80000021u);
}

TEST(KvmCpuidTest, EmptyTableStaysEmpty) { EXPECT_TRUE(guest_cpuid({}).empty()); }

}  // namespace
}  // namespace kvpc
