#include "vmm/boot/kernel_format.h"

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/elf32.h"
#include "vmm/boot/kvpc64_header.h"
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
  return make_error(
      fmt::format("unknown kernel format '{}' (expected auto, multiboot, kvpc64, flat or linux)", text));
}

std::string_view kernel_format_name(KernelFormat format) {
  switch (format) {
    case KernelFormat::kAuto: return "auto";
    case KernelFormat::kMultiboot: return "multiboot";
    case KernelFormat::kKvpc64: return "kvpc64";
    case KernelFormat::kFlat: return "flat";
    case KernelFormat::kLinuxBzImage: return "linux";
  }
  return "unknown";
}

Result<KernelFormat> detect_kernel_format(std::span<const uint8_t> image) {
  if (image.empty()) return make_error("kernel image is empty");
  if (has_kvpc64_magic(image)) return KernelFormat::kKvpc64;
  if (has_multiboot_header(image)) return KernelFormat::kMultiboot;
  if (is_linux_bzimage(image)) return KernelFormat::kLinuxBzImage;
  if (is_elf(image)) {
    // A header whose checksum is wrong is almost certainly a Multiboot kernel built
    // wrong; saying so beats the generic message.
    if (find_multiboot_magic(image)) {
      auto header = parse_multiboot_header(image);
      return make_error(fmt::format("ELF kernel with a broken Multiboot header: {}", header.error().message));
    }
    return make_error(
        "ELF kernel without a Multiboot header (kvpc boots ELF kernels through Multiboot; Linux vmlinux support "
        "comes with the Linux boot protocol)");
  }
  return KernelFormat::kFlat;
}

}  // namespace kvpc
