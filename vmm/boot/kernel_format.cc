#include "vmm/boot/kernel_format.h"

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/elf32.h"
#include "vmm/boot/kvpc64_header.h"
#include "vmm/boot/linux_pvh_image.h"
#include "vmm/boot/multiboot_header.h"

namespace kvpc {
namespace {

// Linux boot protocol (Documentation/arch/x86/boot.rst): the real-mode setup header.
constexpr uint64_t kBootSectorSignatureOffset = 0x1FE;
constexpr uint16_t kBootSectorSignature = 0xAA55;
constexpr uint64_t kSetupHeaderMagicOffset = 0x202;
constexpr std::string_view kSetupHeaderMagic = "HdrS";

bool is_linux_bzimage(std::span<const uint8_t> image) {
  return boot::read_u16(image, kBootSectorSignatureOffset) == kBootSectorSignature &&
         boot::bytes_equal(image, kSetupHeaderMagicOffset, kSetupHeaderMagic);
}

}  // namespace

Result<KernelFormat> parse_kernel_format(std::string_view text) {
  if (text == "auto") return KernelFormat::kAuto;
  if (text == "multiboot") return KernelFormat::kMultiboot;
  if (text == "kvpc64") return KernelFormat::kKvpc64;
  if (text == "flat") return KernelFormat::kFlat;
  if (text == "linux") return KernelFormat::kLinuxBzImage;
  if (text == "pvh") return KernelFormat::kLinuxPvh;
  return make_error(
      fmt::format("unknown kernel format '{}' (expected auto, multiboot, kvpc64, flat, linux or pvh)", text));
}

std::string_view kernel_format_name(KernelFormat format) {
  switch (format) {
    case KernelFormat::kAuto: return "auto";
    case KernelFormat::kMultiboot: return "multiboot";
    case KernelFormat::kKvpc64: return "kvpc64";
    case KernelFormat::kFlat: return "flat";
    case KernelFormat::kLinuxBzImage: return "linux";
    case KernelFormat::kLinuxPvh: return "pvh";
  }
  return "unknown";
}

Result<KernelFormat> detect_kernel_format(std::span<const uint8_t> image) {
  if (image.empty()) return make_error("kernel image is empty");
  if (has_kvpc64_magic(image)) return KernelFormat::kKvpc64;
  if (has_multiboot_header(image)) return KernelFormat::kMultiboot;
  if (is_linux_bzimage(image)) return KernelFormat::kLinuxBzImage;
  if (is_elf64(image)) {
    auto pvh = parse_linux_pvh_image(image);
    if (pvh) return KernelFormat::kLinuxPvh;
    if (!find_multiboot_magic(image)) return make_error(fmt::format("64-bit ELF kernel: {}", pvh.error().message));
  }
  if (is_elf(image)) {
    // A header whose checksum is wrong is almost certainly a Multiboot kernel built
    // wrong; saying so beats the generic message.
    if (find_multiboot_magic(image)) {
      auto header = parse_multiboot_header(image);
      return make_error(fmt::format("ELF kernel with a broken Multiboot header: {}", header.error().message));
    }
    return make_error(
        "ELF kernel without a Multiboot header (kvpc boots 32-bit ELF kernels through Multiboot and 64-bit Linux "
        "vmlinux files through their PVH entry note)");
  }
  return KernelFormat::kFlat;
}

}  // namespace kvpc
