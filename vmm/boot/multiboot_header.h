// The Multiboot v1 header: finding it in an image and checking what it asks for.
//
// Shared by format detection (is there a header at all?) and the Multiboot loader (what
// does it say?). Facts from the Multiboot 0.6.96 specification, section 3.1.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "vmm/result.h"

namespace kvpc {

inline constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;
// What the boot loader leaves in EAX so the kernel knows it was booted by Multiboot.
inline constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;
// The header must lie, 4-byte aligned, entirely inside the image's first 8192 bytes.
inline constexpr uint64_t kMultibootSearchBytes = 8192;

// Header flag bits. Bits 0-15 are requirements: a loader that does not understand one must
// refuse the kernel. Bits 16-31 are optional features.
inline constexpr uint32_t kMultibootFlagPageAlignModules = 1u << 0;
inline constexpr uint32_t kMultibootFlagMemoryInfo = 1u << 1;
inline constexpr uint32_t kMultibootFlagVideoMode = 1u << 2;
inline constexpr uint32_t kMultibootFlagAddressFields = 1u << 16;  // the "a.out kludge"

struct MultibootHeader {
  uint64_t file_offset = 0;  // where the magic was found
  uint32_t flags = 0;
  // Valid when flags has kMultibootFlagAddressFields (header offsets 12-31).
  uint32_t header_addr = 0;
  uint32_t load_addr = 0;
  uint32_t load_end_addr = 0;
  uint32_t bss_end_addr = 0;
  uint32_t entry_addr = 0;

  bool has_address_fields() const { return (flags & kMultibootFlagAddressFields) != 0; }
  // Bytes the header occupies given its flags (12, 32 or 48).
  uint64_t size() const;
};

// True when the image has a 4-byte-aligned magic with a correct checksum in its first
// 8192 bytes. Flags are not judged: detection only decides "this is a Multiboot kernel",
// so that a kernel asking for an unsupported feature gets a clear error, not a flat boot.
bool has_multiboot_header(std::span<const uint8_t> image);

// Offset of the first magic in the search window, valid checksum or not (nullopt if none).
std::optional<uint64_t> find_multiboot_magic(std::span<const uint8_t> image);

// Finds the first header with a valid checksum and validates it: required flag bits,
// fields truncated by the end of the file or of the 8192-byte window. Errors name the
// offset and the field.
Result<MultibootHeader> parse_multiboot_header(std::span<const uint8_t> image);

}  // namespace kvpc
