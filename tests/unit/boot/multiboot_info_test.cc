// The Multiboot information structure and modules, read back the way a kernel reads them.
#include "vmm/boot/multiboot_info.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/multiboot_loader.h"

namespace kvpc {
namespace {

using test::Bytes;
using test::guest_u32;
using test::guest_u64;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

// Offsets in multiboot_info (Multiboot 0.6.96, section 3.3).
constexpr uint64_t kFlags = 0, kMemLower = 4, kMemUpper = 8, kCmdline = 16, kModsCount = 20, kModsAddr = 24,
                   kMmapLength = 44, kMmapAddr = 48, kLoaderName = 64;

Bytes kernel_ending_at_0x203000() {
  return test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x1000, 1)),
                                    test::load_segment(0x200000, test::pattern(0x10, 2), 0x2800)},
                                   0x100000)
      .bytes;
}

uint64_t info_field(const GuestMemory& memory, uint64_t offset) {
  return guest_u32(memory, kMultibootInfoAddress + offset);
}

void expect_mmap_equals_e820(const GuestMemory& memory) {
  auto e820 = memory.e820();
  ASSERT_EQ(info_field(memory, kMmapLength), e820.size() * 24);
  uint64_t entry = info_field(memory, kMmapAddr);
  for (const auto& expected : e820) {
    EXPECT_EQ(guest_u32(memory, entry), 20u);
    EXPECT_EQ(guest_u64(memory, entry + 4), expected.addr);
    EXPECT_EQ(guest_u64(memory, entry + 12), expected.size);
    EXPECT_EQ(guest_u32(memory, entry + 20), expected.type);
    entry += guest_u32(memory, entry) + 4;  // how a kernel walks it
  }
}

TEST(MultibootInfo, FieldsFor64MiB) {
  auto memory = std::move(GuestMemory::create_pc(64 * kMiB).value());
  auto r = load_multiboot(kernel_ending_at_0x203000(), "console=ttyS0 loglevel=7", {}, memory);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rbx, kMultibootInfoAddress);
  EXPECT_EQ(info_field(memory, kFlags), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
  EXPECT_EQ(info_field(memory, kMemLower), 640u);
  EXPECT_EQ(info_field(memory, kMemUpper), 63u * 1024);
  EXPECT_EQ(test::guest_c_string(memory, info_field(memory, kCmdline)), "console=ttyS0 loglevel=7");
  EXPECT_EQ(test::guest_c_string(memory, info_field(memory, kLoaderName)), "kvpc");
  EXPECT_EQ(info_field(memory, kModsCount), 0u);
  EXPECT_EQ(info_field(memory, kModsAddr), kMultibootModuleListAddress);
  expect_mmap_equals_e820(memory);
  EXPECT_EQ(memory.e820().size(), 3u);  // low RAM, legacy window, RAM from 1 MiB
  // Fields kvpc does not provide stay zero.
  EXPECT_EQ(info_field(memory, 12), 0u);  // boot_device
  for (uint64_t offset = 68; offset < kMultibootInfoBytes; offset += 4) EXPECT_EQ(info_field(memory, offset), 0u);
}

TEST(MultibootInfo, FieldsFor4GiB) {
  // 3 GiB below the PCI hole, 1 GiB above 4 GiB: mem_upper stops at the hole.
  auto memory = std::move(GuestMemory::create_pc(4 * kGiB).value());
  auto r = load_multiboot(kernel_ending_at_0x203000(), "", {}, memory);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(info_field(memory, kMemLower), 640u);
  EXPECT_EQ(info_field(memory, kMemUpper), (3 * kGiB - kMiB) / 1024);
  EXPECT_EQ(info_field(memory, kMemUpper), 3144704u);
  expect_mmap_equals_e820(memory);
  ASSERT_EQ(memory.e820().size(), 4u);
  EXPECT_EQ(guest_u64(memory, kMultibootMmapAddress + 3 * 24 + 4), 4 * kGiB);
  EXPECT_EQ(guest_u64(memory, kMultibootMmapAddress + 3 * 24 + 12), kGiB);
  EXPECT_EQ(test::guest_c_string(memory, info_field(memory, kCmdline)), "");
}

TEST(MultibootInfo, MemorySizesFromTheRegions) {
  auto one_mib = std::move(GuestMemory::create_pc(kMiB).value());
  EXPECT_EQ(multiboot_mem_lower_kib(one_mib), 640u);
  EXPECT_EQ(multiboot_mem_upper_kib(one_mib), 0u);
  GuestMemory split;
  ASSERT_TRUE(split.add_region("a", 0, 0x40000, false));        // 256 KiB
  ASSERT_TRUE(split.add_region("b", 0x100000, 0x100000, false));  // 1 MiB at 1 MiB
  ASSERT_TRUE(split.add_region("c", 0x200000, 0x100000, false));  // adjacent: counts
  ASSERT_TRUE(split.add_region("d", 0x400000, 0x100000, false));  // after a gap: does not
  EXPECT_EQ(multiboot_mem_lower_kib(split), 256u);
  EXPECT_EQ(multiboot_mem_upper_kib(split), 2048u);
}

TEST(MultibootInfo, ModulesArePageAlignedAfterTheKernelWithExactContents) {
  auto memory = std::move(GuestMemory::create_pc(64 * kMiB).value());
  Bytes initrd = test::pattern(5000, 0x40);
  Bytes second = {1, 2, 3};
  Bytes empty;
  auto r = load_multiboot(kernel_ending_at_0x203000(), "",
                          {{"/boot/initrd.img root=/dev/ram0", initrd}, {"second", second}, {"", empty}}, memory);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(info_field(memory, kModsCount), 3u);
  uint64_t list = info_field(memory, kModsAddr);

  EXPECT_EQ(guest_u32(memory, list + 0), 0x203000u);
  EXPECT_EQ(guest_u32(memory, list + 4), 0x203000u + 5000);
  EXPECT_EQ(test::guest_c_string(memory, guest_u32(memory, list + 8)), "/boot/initrd.img root=/dev/ram0");
  EXPECT_EQ(guest_u32(memory, list + 12), 0u);
  EXPECT_EQ(test::guest_bytes(memory, 0x203000, 5000), initrd);

  EXPECT_EQ(guest_u32(memory, list + 16), 0x205000u);
  EXPECT_EQ(guest_u32(memory, list + 20), 0x205003u);
  EXPECT_EQ(test::guest_c_string(memory, guest_u32(memory, list + 24)), "second");
  EXPECT_EQ(test::guest_bytes(memory, 0x205000, 3), second);

  EXPECT_EQ(guest_u32(memory, list + 32), 0x206000u);
  EXPECT_EQ(guest_u32(memory, list + 36), 0x206000u);
  EXPECT_EQ(test::guest_c_string(memory, guest_u32(memory, list + 40)), "");
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(guest_u32(memory, list + i * 16) % 4096, 0u);
}

TEST(MultibootInfo, ModulesNeverGoBelow1MiB) {
  auto memory = std::move(GuestMemory::create_pc(64 * kMiB).value());
  auto kernel = test::build_multiboot_elf({test::load_segment(0x20000, test::pattern(0x100, 1))}, 0x20000);
  Bytes module = test::pattern(100, 7);
  auto r = load_multiboot(kernel.bytes, "", {{"m", module}}, memory);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(guest_u32(memory, kMultibootModuleListAddress), 0x100000u);
  EXPECT_EQ(test::guest_bytes(memory, 0x100000, 100), module);
}

TEST(MultibootInfo, ModuleThatDoesNotFit) {
  auto memory = std::move(GuestMemory::create_pc(4 * kMiB).value());
  Bytes module(0x200000, 1);
  auto r = load_multiboot(kernel_ending_at_0x203000(), "", {{"initrd", module}}, memory);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "Multiboot module 0 ('initrd', 2097152 bytes) does not fit in guest RAM below 4 GiB at 0x203000 (RAM "
            "there ends at 0x400000)");
}

TEST(MultibootInfo, CommandLineLimits) {
  auto memory = std::move(GuestMemory::create_pc(64 * kMiB).value());
  std::string longest(kMultibootMaxCmdlineBytes, 'x');
  auto ok = load_multiboot(kernel_ending_at_0x203000(), longest, {}, memory);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(test::guest_c_string(memory, kMultibootCmdlineAddress), longest);

  auto too_long = load_multiboot(kernel_ending_at_0x203000(), longest + "x", {}, memory);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message, "Multiboot command line is 4096 bytes; kvpc passes at most 4095");

  auto nul = load_multiboot(kernel_ending_at_0x203000(), std::string_view("a\0b", 3), {}, memory);
  ASSERT_FALSE(nul);
  EXPECT_THAT(nul.error().message, HasSubstr("NUL byte at offset 1"));
}

TEST(MultibootInfo, ModuleCountAndStringLimits) {
  auto memory = std::move(GuestMemory::create_pc(64 * kMiB).value());
  Bytes tiny = {1};
  std::vector<MultibootModule> many(kMultibootMaxModules + 1, MultibootModule{"m", tiny});
  auto r = load_multiboot(kernel_ending_at_0x203000(), "", many, memory);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("129 Multiboot modules given; kvpc passes at most 128"));

  std::vector<MultibootModule> wordy(4, MultibootModule{std::string(0x1800, 's'), tiny});
  auto w = load_multiboot(kernel_ending_at_0x203000(), "", wordy, memory);
  ASSERT_FALSE(w);
  EXPECT_THAT(w.error().message, HasSubstr("module strings take 24580 bytes"));

  auto nul = load_multiboot(kernel_ending_at_0x203000(), "", {{std::string("a\0", 2), tiny}}, memory);
  ASSERT_FALSE(nul);
  EXPECT_THAT(nul.error().message, HasSubstr("Multiboot module 0 string contains a NUL byte"));
}

TEST(MultibootInfo, StaleBytesInTheAreaAreCleared) {
  auto memory = std::move(GuestMemory::create_pc(64 * kMiB).value());
  test::fill_guest(memory, kMultibootInfoAreaStart, kMultibootInfoAreaEnd - kMultibootInfoAreaStart, 0xEE);
  ASSERT_TRUE(load_multiboot(kernel_ending_at_0x203000(), "a", {}, memory));
  EXPECT_EQ(test::guest_bytes(memory, kMultibootCmdlineAddress + 1, 0x100), Bytes(0x100, 0));
  EXPECT_EQ(test::guest_bytes(memory, kMultibootModuleStringsAddress, 0x100), Bytes(0x100, 0));
}

TEST(MultibootInfo, NeedsLowRam) {
  GuestMemory memory;
  ASSERT_TRUE(memory.add_region("high", 0x100000, 0x1000000, false));
  auto r = load_multiboot(kernel_ending_at_0x203000(), "", {}, memory);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("guest RAM does not cover the Multiboot info area [0x8000, 0x10000)"));
}

}  // namespace
}  // namespace kvpc
