#include "vmm/boot/linux_setup_header.h"

#include <fmt/format.h>

#include <bit>

#include "vmm/boot/byte_reader.h"

namespace kvpc {

using O = LinuxSetupOffsets;

bool looks_like_linux_bzimage(std::span<const uint8_t> image) {
  return boot::read_u16(image, O::kBootFlag) == kLinuxBootFlag &&
         boot::read_u32(image, O::kHeaderMagic) == kLinuxHeaderMagic;
}

Result<LinuxSetupHeader> parse_linux_setup_header(std::span<const uint8_t> image) {
  auto field_error = [](std::string_view field, uint64_t offset, std::string_view what) {
    return make_error(fmt::format("bzImage setup header field {} (offset {:#x}) {}", field, offset, what));
  };
  // The header ends with init_size at 0x260..0x263 for every protocol kvpc accepts.
  if (image.size() < O::kInitSize + 4) {
    return make_error(fmt::format("bzImage is {} bytes: too short to hold a setup header (needs {:#x})",
                                  image.size(), O::kInitSize + 4));
  }
  auto u8 = [&](uint64_t o) { return image[o]; };
  auto u16 = [&](uint64_t o) { return *boot::read_u16(image, o); };
  auto u32 = [&](uint64_t o) { return *boot::read_u32(image, o); };
  auto u64 = [&](uint64_t o) { return *boot::read_u64(image, o); };

  if (u16(O::kBootFlag) != kLinuxBootFlag) {
    return field_error("boot_flag", O::kBootFlag, fmt::format("is {:#06x}, not 0xaa55", u16(O::kBootFlag)));
  }
  if (u32(O::kHeaderMagic) != kLinuxHeaderMagic) {
    return field_error("header", O::kHeaderMagic, fmt::format("is {:#010x}, not \"HdrS\"", u32(O::kHeaderMagic)));
  }
  LinuxSetupHeader h;
  h.version = u16(O::kVersion);
  if (h.version < kLinuxMinimumProtocol) {
    return field_error("version", O::kVersion,
                       fmt::format("is {}.{:02}: kvpc needs boot protocol 2.12 or later (Linux 3.8+) for the 64-bit entry",
                                   h.version >> 8, h.version & 0xFF));
  }
  h.loadflags = u8(O::kLoadFlags);
  if ((h.loadflags & kLoadFlagLoadedHigh) == 0) {
    return field_error("loadflags", O::kLoadFlags,
                       fmt::format("is {:#04x}: LOADED_HIGH is clear (a zImage loaded at 0x10000), which kvpc does not boot",
                                   h.loadflags));
  }
  h.xloadflags = u16(O::kXLoadFlags);
  if ((h.xloadflags & kXLoadFlagKernel64) == 0) {
    return field_error("xloadflags", O::kXLoadFlags,
                       fmt::format("is {:#06x}: XLF_KERNEL_64 is clear, so this is not an x86-64 kernel with a 64-bit entry point",
                                   h.xloadflags));
  }
  h.setup_sects = u8(O::kSetupSects);
  if (h.setup_sects == 0) h.setup_sects = 4;  // the protocol's rule for very old images, kept for exactness
  h.kernel_offset = (uint64_t{h.setup_sects} + 1) * 512;
  if (h.kernel_offset >= image.size()) {
    return field_error("setup_sects", O::kSetupSects,
                       fmt::format("is {}: the protected-mode kernel would start at {:#x}, past the end of the {}-byte file",
                                   h.setup_sects, h.kernel_offset, image.size()));
  }
  h.kernel_size = image.size() - h.kernel_offset;
  // syssize counts 16-byte paragraphs; a file cut short is the usual way a copy goes wrong.
  uint64_t syssize_bytes = uint64_t{u32(O::kSysSize)} * 16;
  if (syssize_bytes > h.kernel_size) {
    return field_error("syssize", O::kSysSize,
                       fmt::format("says the protected-mode kernel is {} bytes but the file holds only {} after the setup code "
                                   "(truncated image?)",
                                   syssize_bytes, h.kernel_size));
  }
  h.initrd_addr_max = u32(O::kInitrdAddrMax);
  h.kernel_alignment = u32(O::kKernelAlignment);
  h.relocatable = u8(O::kRelocatableKernel) != 0;
  h.min_alignment_log2 = u8(O::kMinAlignment);
  if (!std::has_single_bit(h.kernel_alignment)) {
    return field_error("kernel_alignment", O::kKernelAlignment,
                       fmt::format("is {:#x}: not a power of two", h.kernel_alignment));
  }
  if (h.relocatable && h.kernel_alignment < 0x1000) {
    return field_error("kernel_alignment", O::kKernelAlignment,
                       fmt::format("is {:#x}: a relocatable kernel needs at least page alignment", h.kernel_alignment));
  }
  if (h.min_alignment_log2 > 31) {
    return field_error("min_alignment", O::kMinAlignment, fmt::format("is {}: more than 2^31", h.min_alignment_log2));
  }
  h.cmdline_size = u32(O::kCmdlineSize);
  h.pref_address = u64(O::kPrefAddress);
  h.init_size = u32(O::kInitSize);
  if (h.init_size == 0 || h.init_size < h.kernel_size) {
    return field_error("init_size", O::kInitSize,
                       fmt::format("is {:#x}, smaller than the {:#x}-byte protected-mode kernel it must hold",
                                   h.init_size, h.kernel_size));
  }
  if (h.pref_address % h.kernel_alignment != 0 && !h.relocatable) {
    return field_error("pref_address", O::kPrefAddress,
                       fmt::format("is {:#x}, not aligned to kernel_alignment {:#x} and the kernel is not relocatable",
                                   h.pref_address, h.kernel_alignment));
  }
  return h;
}

}  // namespace kvpc
