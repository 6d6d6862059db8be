#include "vmm/boot/multiboot_header.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"

namespace kvpc {
namespace {

using boot::read_u32;

constexpr uint64_t kMinimalHeaderBytes = 12;   // magic, flags, checksum
constexpr uint64_t kAddressFieldsEnd = 32;     // + header/load/load_end/bss_end/entry addr
constexpr uint64_t kVideoFieldsEnd = 48;       // + mode_type, width, height, depth
constexpr uint32_t kRequiredFlagsMask = 0xFFFF;
constexpr uint32_t kSupportedRequiredFlags =
    kMultibootFlagPageAlignModules | kMultibootFlagMemoryInfo | kMultibootFlagVideoMode;

bool checksum_ok(std::span<const uint8_t> image, uint64_t offset) {
  auto magic = read_u32(image, offset);
  auto flags = read_u32(image, offset + 4);
  auto checksum = read_u32(image, offset + 8);
  if (!magic || !flags || !checksum) return false;
  return static_cast<uint32_t>(*magic + *flags + *checksum) == 0;
}

// Offsets of every aligned magic whose 12-byte header fits in the window, in file order.
template <typename Visit>
void for_each_magic(std::span<const uint8_t> image, Visit visit) {
  uint64_t window = std::min<uint64_t>(image.size(), kMultibootSearchBytes);
  for (uint64_t offset = 0; offset + kMinimalHeaderBytes <= window; offset += 4) {
    if (read_u32(image, offset) == kMultibootHeaderMagic && !visit(offset)) return;
  }
}

}  // namespace

uint64_t MultibootHeader::size() const {
  if (flags & kMultibootFlagVideoMode) return kVideoFieldsEnd;
  if (flags & kMultibootFlagAddressFields) return kAddressFieldsEnd;
  return kMinimalHeaderBytes;
}

std::optional<uint64_t> find_multiboot_magic(std::span<const uint8_t> image) {
  std::optional<uint64_t> found;
  for_each_magic(image, [&](uint64_t offset) {
    found = offset;
    return false;
  });
  return found;
}

bool has_multiboot_header(std::span<const uint8_t> image) {
  bool found = false;
  for_each_magic(image, [&](uint64_t offset) {
    found = checksum_ok(image, offset);
    return !found;
  });
  return found;
}

Result<MultibootHeader> parse_multiboot_header(std::span<const uint8_t> image) {
  std::optional<uint64_t> header_offset;
  for_each_magic(image, [&](uint64_t offset) {
    if (checksum_ok(image, offset)) header_offset = offset;
    return !header_offset;
  });
  if (!header_offset) {
    if (auto first = find_multiboot_magic(image)) {
      uint32_t flags = *read_u32(image, *first + 4);
      uint32_t checksum = *read_u32(image, *first + 8);
      return make_error(fmt::format(
          "Multiboot header at offset {:#x}: bad checksum {:#010x} (magic + flags {:#010x} + checksum must be 0 "
          "mod 2^32; expected {:#010x})",
          *first, checksum, flags, static_cast<uint32_t>(0u - kMultibootHeaderMagic - flags)));
    }
    return make_error(fmt::format("no Multiboot header (magic {:#010x}, 4-byte aligned) in the first {} bytes",
                                  kMultibootHeaderMagic, kMultibootSearchBytes));
  }

  MultibootHeader header;
  header.file_offset = *header_offset;
  header.flags = *read_u32(image, header.file_offset + 4);

  uint32_t unsupported = header.flags & kRequiredFlagsMask & ~kSupportedRequiredFlags;
  if (unsupported != 0) {
    int bit = std::countr_zero(unsupported);
    return make_error(fmt::format(
        "Multiboot header at offset {:#x}: flags {:#010x} require feature bit {}, which kvpc does not know "
        "(supported required bits: 0 page-aligned modules, 1 memory info, 2 video mode)",
        header.file_offset, header.flags, bit));
  }

  uint64_t needed = header.size();
  if (!boot::range_fits(header.file_offset, needed, image.size())) {
    return make_error(fmt::format(
        "Multiboot header at offset {:#x} is truncated: flags {:#010x} need {} header bytes, the file ends after {}",
        header.file_offset, header.flags, needed, image.size() - header.file_offset));
  }
  if (header.file_offset + needed > kMultibootSearchBytes) {
    return make_error(fmt::format(
        "Multiboot header at offset {:#x} ({} bytes with flags {:#010x}) extends past the first {} bytes of the "
        "image, where the specification requires it to lie",
        header.file_offset, needed, header.flags, kMultibootSearchBytes));
  }
  if (header.has_address_fields()) {
    header.header_addr = *read_u32(image, header.file_offset + 12);
    header.load_addr = *read_u32(image, header.file_offset + 16);
    header.load_end_addr = *read_u32(image, header.file_offset + 20);
    header.bss_end_addr = *read_u32(image, header.file_offset + 24);
    header.entry_addr = *read_u32(image, header.file_offset + 28);
  }
  return header;
}

}  // namespace kvpc
