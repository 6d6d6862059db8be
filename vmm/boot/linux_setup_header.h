// The Linux x86 boot protocol's setup header, read from a bzImage and checked field by
// field before kvpc trusts any of it (Documentation/arch/x86/boot.rst describes the layout).
//
// kvpc boots bzImages through the 64-bit entry point (protocol 2.12+, XLF_KERNEL_64): no
// real-mode setup code runs, so only the fields the protected-mode kernel reads matter. Every
// rejection names the field and the value found, because the user's next step is to look at
// that field (or at how the image was built).
#pragma once

#include <cstdint>
#include <span>

#include "vmm/result.h"

namespace kvpc {

// Offsets inside the image (and inside boot_params, which embeds the header at the same place).
struct LinuxSetupOffsets {
  static constexpr uint64_t kSetupSects = 0x1F1;
  static constexpr uint64_t kSysSize = 0x1F4;
  static constexpr uint64_t kVidMode = 0x1FA;
  static constexpr uint64_t kBootFlag = 0x1FE;
  static constexpr uint64_t kJump = 0x200;
  static constexpr uint64_t kHeaderMagic = 0x202;
  static constexpr uint64_t kVersion = 0x206;
  static constexpr uint64_t kTypeOfLoader = 0x210;
  static constexpr uint64_t kLoadFlags = 0x211;
  static constexpr uint64_t kCode32Start = 0x214;
  static constexpr uint64_t kRamdiskImage = 0x218;
  static constexpr uint64_t kRamdiskSize = 0x21C;
  static constexpr uint64_t kHeapEndPtr = 0x224;
  static constexpr uint64_t kCmdLinePtr = 0x228;
  static constexpr uint64_t kInitrdAddrMax = 0x22C;
  static constexpr uint64_t kKernelAlignment = 0x230;
  static constexpr uint64_t kRelocatableKernel = 0x234;
  static constexpr uint64_t kMinAlignment = 0x235;
  static constexpr uint64_t kXLoadFlags = 0x236;
  static constexpr uint64_t kCmdlineSize = 0x238;
  static constexpr uint64_t kPrefAddress = 0x258;
  static constexpr uint64_t kInitSize = 0x260;
};

inline constexpr uint16_t kLinuxBootFlag = 0xAA55;
inline constexpr uint32_t kLinuxHeaderMagic = 0x53726448;  // "HdrS"
// 2.12 added xloadflags, which is how a kernel says it has the 64-bit entry point.
inline constexpr uint16_t kLinuxMinimumProtocol = 0x020C;
inline constexpr uint8_t kLoadFlagLoadedHigh = 0x01;
inline constexpr uint8_t kLoadFlagCanUseHeap = 0x80;
inline constexpr uint16_t kXLoadFlagKernel64 = 0x0001;
// The 64-bit entry point sits 0x200 bytes into the protected-mode kernel.
inline constexpr uint64_t kLinux64BitEntryOffset = 0x200;

struct LinuxSetupHeader {
  uint32_t setup_sects = 0;         // 512-byte sectors of real-mode code after the boot sector
  uint16_t version = 0;             // protocol version, 0x020F = 2.15
  uint8_t loadflags = 0;
  uint32_t initrd_addr_max = 0;     // highest address the initrd's last byte may have
  uint32_t kernel_alignment = 0;    // power of two
  bool relocatable = false;
  uint8_t min_alignment_log2 = 0;
  uint16_t xloadflags = 0;
  uint32_t cmdline_size = 0;        // maximum command line length, without the NUL
  uint64_t pref_address = 0;        // where the kernel was linked to run
  uint32_t init_size = 0;           // bytes the kernel needs from its load address while decompressing
  // Where the protected-mode kernel starts in the file, and how long it is.
  uint64_t kernel_offset = 0;
  uint64_t kernel_size = 0;
};

// True when the bytes look like a bzImage (boot flag and "HdrS"); says nothing about validity.
bool looks_like_linux_bzimage(std::span<const uint8_t> image);

// Reads and validates the header: boot flag, magic, protocol >= 2.12, LOADED_HIGH,
// XLF_KERNEL_64, kernel_alignment a power of two (>= 4 KiB when relocatable), init_size
// nonzero and at least the protected-mode kernel's size, setup_sects within the file and the
// protected-mode kernel non-empty.
Result<LinuxSetupHeader> parse_linux_setup_header(std::span<const uint8_t> image);

}  // namespace kvpc
