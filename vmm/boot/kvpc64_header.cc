#include "vmm/boot/kvpc64_header.h"

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/guest_ranges.h"

namespace kvpc {

bool has_kvpc64_magic(std::span<const uint8_t> image) { return boot::bytes_equal(image, 0, kKvpc64Magic); }

Result<Kvpc64Header> parse_kvpc64_header(std::span<const uint8_t> image) {
  if (image.size() < kKvpc64HeaderBytes) {
    return make_error(fmt::format("kvpc64 image is {} bytes, shorter than its {}-byte header", image.size(),
                                  kKvpc64HeaderBytes));
  }
  if (!has_kvpc64_magic(image)) {
    return make_error(fmt::format("kvpc64 header: magic at offset 0 is not '{}'", kKvpc64Magic));
  }
  Kvpc64Header header;
  header.version = *boot::read_u32(image, 8);
  header.header_size = *boot::read_u32(image, 12);
  header.load_address = *boot::read_u64(image, 16);
  header.entry_offset = *boot::read_u64(image, 24);
  header.memory_size = *boot::read_u64(image, 32);
  header.stack_top = *boot::read_u64(image, 40);

  if (header.version != kKvpc64Version) {
    return make_error(fmt::format("kvpc64 header: version {} is not supported (kvpc reads version {})",
                                  header.version, kKvpc64Version));
  }
  if (header.header_size != kKvpc64HeaderBytes) {
    return make_error(fmt::format("kvpc64 header: header_size {} is not {}", header.header_size, kKvpc64HeaderBytes));
  }
  if (header.load_address % kKvpc64LoadAlignment != 0) {
    return make_error(fmt::format("kvpc64 header: load_address {:#x} is not 4 KiB aligned", header.load_address));
  }
  if (header.load_address < kKvpc64MinLoadAddress) {
    return make_error(fmt::format(
        "kvpc64 header: load_address {:#x} is below {:#x}; the first MiB holds the boot tables and legacy areas",
        header.load_address, kKvpc64MinLoadAddress));
  }
  if (header.memory_size < image.size()) {
    return make_error(fmt::format("kvpc64 header: memory_size {:#x} is smaller than the file ({:#x} bytes)",
                                  header.memory_size, image.size()));
  }
  if (!boot::checked_end(header.load_address, header.memory_size)) {
    return make_error(fmt::format("kvpc64 header: load_address {:#x} + memory_size {:#x} wraps around",
                                  header.load_address, header.memory_size));
  }
  // Executing the header would run its magic as instructions; the entry must be code.
  if (header.entry_offset < kKvpc64HeaderBytes || header.entry_offset >= image.size()) {
    return make_error(fmt::format(
        "kvpc64 header: entry_offset {:#x} is outside the image's code: it must be in [{:#x}, {:#x}) (after the "
        "header, before the end of the file)",
        header.entry_offset, kKvpc64HeaderBytes, image.size()));
  }
  return header;
}

}  // namespace kvpc
