// Linux direct boot: where the kernel, boot_params / hvm_start_info, the command line, the
// initrd and the MP table land, the entry state, and the errors for images or VMs that
// cannot work.
#include "vmm/boot/linux_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/linux_setup_header.h"
#include "vmm/boot/long_mode_tables.h"

namespace kvpc {
namespace {

using test::Bytes;
using test::BzImageSpec;
using test::guest_u32;
using test::guest_u64;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1ULL << 20;

uint8_t guest_u8(const GuestMemory& m, uint64_t gpa) { return m.read_obj<uint8_t>(gpa).value(); }
uint16_t guest_u16(const GuestMemory& m, uint64_t gpa) { return m.read_obj<uint16_t>(gpa).value(); }

class LinuxLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { memory_ = std::move(GuestMemory::create_pc(64 * kMiB).value()); }
  Result<CpuEntryState> bzimage(const Bytes& image, std::string_view cmdline = "console=ttyS0",
                                const std::optional<Bytes>& initrd = std::nullopt) {
    LinuxBootRequest r{image, cmdline, std::nullopt, {}};
    if (initrd) r.initrd = std::span<const uint8_t>(*initrd);
    r.mp.pci_interrupts = {{2, 0, 10}};
    return load_linux_bzimage(r, memory_);
  }
  Result<CpuEntryState> pvh(const Bytes& image, std::string_view cmdline = "console=ttyS0",
                            const std::optional<Bytes>& initrd = std::nullopt) {
    LinuxBootRequest r{image, cmdline, std::nullopt, {}};
    if (initrd) r.initrd = std::span<const uint8_t>(*initrd);
    return load_linux_pvh(r, memory_);
  }
  GuestMemory memory_;
};

TEST_F(LinuxLoaderTest, BzImageKernelAtPrefAddressAndSixtyFourBitEntry) {
  Bytes image = test::build_bzimage();
  auto state = bzimage(image);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(test::guest_bytes(memory_, 0x1000000, 0x3000), Bytes(image.begin() + 0xA00, image.end()));
  EXPECT_EQ(state->mode, CpuEntryState::Mode::kLong64);
  EXPECT_EQ(state->rip, 0x1000200u);
  EXPECT_EQ(state->rsi, kLinuxBootParamsAddress);
  EXPECT_EQ(state->rflags & 0x200, 0u) << "interrupts must be off";
  EXPECT_EQ(state->code_selector, 0x10);
  EXPECT_EQ(state->data_selector64, 0x18);
  EXPECT_EQ(guest_u64(memory_, state->gdt_base + 0x10), kGdtKernelCode64);
  EXPECT_EQ(guest_u64(memory_, state->gdt_base + 0x18), kGdtKernelData);
  // Identity mapping covers the kernel, boot_params and the command line.
  EXPECT_NE(state->cr3, 0u);
}

TEST_F(LinuxLoaderTest, BootParamsCarryHeaderCommandLineAndMemoryMap) {
  Bytes image = test::build_bzimage();
  ASSERT_TRUE(bzimage(image, "console=ttyS0 quiet"));
  const uint64_t zp = kLinuxBootParamsAddress;
  // The header is copied from 0x1F1 to its end (0x202 + 0x6A)...
  for (uint64_t o : {0x1F1u, 0x1F4u, 0x206u, 0x22Cu, 0x230u, 0x236u, 0x238u, 0x258u, 0x260u}) {
    EXPECT_EQ(guest_u8(memory_, zp + o), image[o]) << std::hex << o;
  }
  EXPECT_EQ(guest_u32(memory_, zp + 0x202), 0x53726448u);
  // ... then the loader's own fields.
  EXPECT_EQ(guest_u8(memory_, zp + 0x210), 0xFF);             // type_of_loader
  EXPECT_EQ(guest_u8(memory_, zp + 0x211), 0x81);             // LOADED_HIGH | CAN_USE_HEAP
  EXPECT_EQ(guest_u16(memory_, zp + 0x224), 0xFE00);          // heap_end_ptr
  EXPECT_EQ(guest_u32(memory_, zp + 0x214), 0x1000000u);      // code32_start
  EXPECT_EQ(guest_u32(memory_, zp + 0x228), kLinuxCmdlineAddress);
  EXPECT_EQ(test::guest_c_string(memory_, kLinuxCmdlineAddress), "console=ttyS0 quiet");
  EXPECT_EQ(guest_u8(memory_, zp + 0x1EF), 0) << "sentinel";
  EXPECT_EQ(guest_u32(memory_, zp + 0x218), 0u) << "no initrd";
  auto e820 = memory_.e820();
  ASSERT_EQ(guest_u8(memory_, zp + 0x1E8), e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    uint64_t o = zp + 0x2D0 + i * 20;
    EXPECT_EQ(guest_u64(memory_, o), e820[i].addr);
    EXPECT_EQ(guest_u64(memory_, o + 8), e820[i].size);
    EXPECT_EQ(guest_u32(memory_, o + 16), e820[i].type);
  }
  EXPECT_EQ(test::guest_bytes(memory_, 0xF0000, 4), (Bytes{'_', 'M', 'P', '_'}));
}

TEST_F(LinuxLoaderTest, InitrdGoesHighButAboveInitSizeAndBelowItsLimit) {
  Bytes initrd = test::pattern(0x5123, 3);
  ASSERT_TRUE(bzimage(test::build_bzimage(), "", initrd));
  uint32_t at = guest_u32(memory_, kLinuxBootParamsAddress + 0x218);
  EXPECT_EQ(guest_u32(memory_, kLinuxBootParamsAddress + 0x21C), initrd.size());
  EXPECT_EQ(at % 0x1000, 0u);
  EXPECT_GE(at, 0x1000000u + 0x400000u);
  EXPECT_LE(at + initrd.size(), 64 * kMiB);
  EXPECT_GT(at + initrd.size(), 64 * kMiB - 0x1000) << "as high as RAM allows";
  EXPECT_EQ(test::guest_bytes(memory_, at, initrd.size()), initrd);

  BzImageSpec low_limit;
  low_limit.initrd_addr_max = 0x1FFFFFF;  // 32 MiB - 1
  ASSERT_TRUE(bzimage(test::build_bzimage(low_limit), "", initrd));
  at = guest_u32(memory_, kLinuxBootParamsAddress + 0x218);
  EXPECT_LE(at + initrd.size(), 32 * kMiB);
  EXPECT_EQ(test::guest_bytes(memory_, at, initrd.size()), initrd);
}

TEST_F(LinuxLoaderTest, RelocatableKernelMovesDownWhenPrefAddressDoesNotFit) {
  BzImageSpec spec;
  spec.init_size = 56 * kMiB;  // 16 MiB + 56 MiB > 64 MiB; 2 MiB + 56 MiB fits
  auto state = bzimage(test::build_bzimage(spec));
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(state->rip, 0x200000u + 0x200);
  EXPECT_EQ(guest_u32(memory_, kLinuxBootParamsAddress + 0x214), 0x200000u);
}

TEST_F(LinuxLoaderTest, ErrorsSayWhatToChange) {
  BzImageSpec huge;
  huge.init_size = 80 * kMiB;
  EXPECT_THAT(bzimage(test::build_bzimage(huge)).error().message, HasSubstr("--mem"));
  BzImageSpec fixed;
  fixed.relocatable = 0;
  fixed.init_size = 56 * kMiB;
  EXPECT_THAT(bzimage(test::build_bzimage(fixed)).error().message, HasSubstr("init_size"));
  EXPECT_THAT(bzimage(test::build_bzimage(), std::string(0x800, 'x')).error().message,
              HasSubstr("command line is 2048 bytes; this kernel accepts at most 2047"));
  EXPECT_THAT(bzimage(test::build_bzimage(), std::string("a\0b", 3)).error().message, HasSubstr("NUL"));
  EXPECT_THAT(bzimage(test::build_bzimage(), "", Bytes(60 * kMiB, 1)).error().message,
              HasSubstr("initrd does not fit"));
}

Bytes pvh_kernel() {
  return test::build_pvh_elf({{0x1000000, test::pattern(0x2000, 1), 0x5000}, {0x1006000, test::pattern(0x800, 2), 0x800}},
                             0x1000040);
}

TEST_F(LinuxLoaderTest, PvhLoadsSegmentsAndEntersThirtyTwoBitWithStartInfo) {
  test::fill_guest(memory_, 0x1000000, 0x8000, 0xCC);
  auto state = pvh(pvh_kernel(), "console=ttyS0 root=/dev/ram0");
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(state->mode, CpuEntryState::Mode::kProtected32);
  EXPECT_EQ(state->rip, 0x1000040u);
  EXPECT_EQ(state->rbx, kLinuxBootParamsAddress);
  EXPECT_EQ(test::guest_bytes(memory_, 0x1000000, 0x2000), test::pattern(0x2000, 1));
  EXPECT_EQ(test::guest_bytes(memory_, 0x1002000, 0x3000), Bytes(0x3000, 0)) << "bss zeroed";
  EXPECT_EQ(test::guest_bytes(memory_, 0x1006000, 0x800), test::pattern(0x800, 2));

  const uint64_t si = kLinuxBootParamsAddress;
  EXPECT_EQ(guest_u32(memory_, si), kHvmStartMagic);
  EXPECT_EQ(guest_u32(memory_, si + 4), 1u);
  EXPECT_EQ(guest_u32(memory_, si + 12), 0u) << "no modules";
  EXPECT_EQ(test::guest_c_string(memory_, guest_u64(memory_, si + 24)), "console=ttyS0 root=/dev/ram0");
  EXPECT_EQ(guest_u64(memory_, si + 32), 0u) << "no RSDP: the kernel falls back to the MP table";
  auto e820 = memory_.e820();
  ASSERT_EQ(guest_u32(memory_, si + 48), e820.size());
  uint64_t map = guest_u64(memory_, si + 40);
  for (size_t i = 0; i < e820.size(); ++i) {
    EXPECT_EQ(guest_u64(memory_, map + i * 24), e820[i].addr);
    EXPECT_EQ(guest_u64(memory_, map + i * 24 + 8), e820[i].size);
    EXPECT_EQ(guest_u32(memory_, map + i * 24 + 16), e820[i].type);
  }
}

TEST_F(LinuxLoaderTest, PvhInitrdIsModuleZero) {
  Bytes initrd = test::pattern(0x3001, 7);
  ASSERT_TRUE(pvh(pvh_kernel(), "", initrd));
  const uint64_t si = kLinuxBootParamsAddress;
  ASSERT_EQ(guest_u32(memory_, si + 12), 1u);
  uint64_t module = guest_u64(memory_, si + 16);
  uint64_t at = guest_u64(memory_, module);
  EXPECT_EQ(guest_u64(memory_, module + 8), initrd.size());
  EXPECT_GE(at, 0x1006800u);
  EXPECT_EQ(at % 0x1000, 0u);
  EXPECT_EQ(test::guest_bytes(memory_, at, initrd.size()), initrd);
}

TEST_F(LinuxLoaderTest, PvhFourByteNoteAndRejections) {
  auto four = pvh(test::build_pvh_elf({{0x100000, test::pattern(0x100, 1), 0x100}}, 0x100010, 4));
  ASSERT_TRUE(four) << four.error().message;
  EXPECT_EQ(four->rip, 0x100010u);
  EXPECT_THAT(pvh(test::build_pvh_elf({{0x100000, test::pattern(0x100, 1), 0x100}}, 0x100010, 0)).error().message,
              HasSubstr("CONFIG_PVH=y"));
  EXPECT_THAT(pvh(test::build_pvh_elf({{0x100000, test::pattern(0x100, 1), 0x100}}, 0x100010, 2)).error().message,
              HasSubstr("2-byte value"));
  EXPECT_THAT(pvh(test::build_pvh_elf({{0x100000, test::pattern(0x100, 1), 0x100}}, 0x100000000ULL)).error().message,
              HasSubstr("above 4 GiB"));
  EXPECT_THAT(pvh(test::build_pvh_elf({{0x8000000, test::pattern(0x100, 1), 0x100}}, 0x8000000)).error().message,
              HasSubstr("not inside guest RAM"));
  EXPECT_THAT(pvh(test::build_pvh_elf({{0x100000, test::pattern(0x100, 1), 0x80}}, 0x100000)).error().message,
              HasSubstr("p_filesz 0x100 is larger than p_memsz 0x80"));
  Bytes truncated = pvh_kernel();
  truncated.resize(100);
  EXPECT_THAT(pvh(truncated).error().message, HasSubstr("program header table"));
  Bytes other_machine = pvh_kernel();
  test::put16(other_machine, 18, 183);
  EXPECT_THAT(pvh(other_machine).error().message, HasSubstr("e_machine 183"));
}

}  // namespace
}  // namespace kvpc
