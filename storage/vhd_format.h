// The VHD on-disk format (Microsoft's "Virtual Hard Disk Image Format Specification",
// the format of Virtual PC and Virtual Server): the 512-byte footer, the 1024-byte dynamic
// disk header, CHS geometry. Pure functions on byte buffers, no I/O: VhdImage uses them to
// open and rewrite images, tests and fuzz targets call them directly.
//
// All multi-byte fields are big-endian. Checksums are the one's complement of the byte sum
// of the structure with its checksum field taken as zero.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "vmm/result.h"

namespace kvpc::vhd {

inline constexpr uint32_t kFooterSize = 512;
inline constexpr uint32_t kDynamicHeaderSize = 1024;
inline constexpr uint64_t kNoDataOffset = ~0ULL;       // footer data offset of a fixed disk
inline constexpr uint32_t kUnallocated = 0xFFFFFFFFu;  // BAT entry of a block never written
inline constexpr uint32_t kDefaultBlockSize = 2u << 20;
inline constexpr uint32_t kFeatureReserved = 0x2;      // "must always be set"
inline constexpr uint32_t kVersion = 0x00010000;
// Largest disk the format's CHS geometry describes: 65535 cylinders, 16 heads, 255 sectors.
inline constexpr uint64_t kMaxGeometrySectors = 65535ULL * 16 * 255;
// Largest BAT kvpc loads (4 MiB of entries: 2 TiB at 2 MiB blocks); bounds memory for hostile images.
inline constexpr uint32_t kMaxTableEntries = 1u << 20;

enum class DiskType : uint32_t { kFixed = 2, kDynamic = 3, kDifferencing = 4 };

struct Geometry {
  uint16_t cylinders = 0;
  uint8_t heads = 0;
  uint8_t sectors_per_track = 0;
  uint64_t total_sectors() const { return uint64_t{cylinders} * heads * sectors_per_track; }
  bool operator==(const Geometry&) const = default;
};

struct Footer {
  uint32_t features = kFeatureReserved;
  uint32_t format_version = kVersion;
  uint64_t data_offset = kNoDataOffset;
  uint32_t timestamp = 0;  // seconds since 2000-01-01 00:00 UTC
  std::array<char, 4> creator_app{'k', 'v', 'p', 'c'};
  uint32_t creator_version = 0x00010000;
  uint32_t creator_host_os = 0x5769326B;  // "Wi2k", what Virtual PC writes
  uint64_t original_size = 0;
  uint64_t current_size = 0;
  Geometry geometry;
  uint32_t disk_type = static_cast<uint32_t>(DiskType::kFixed);
  std::array<uint8_t, 16> unique_id{};
  uint8_t saved_state = 0;
};

struct DynamicHeader {
  uint64_t data_offset = kNoDataOffset;
  uint64_t table_offset = 0;
  uint32_t header_version = kVersion;
  uint32_t max_table_entries = 0;
  uint32_t block_size = kDefaultBlockSize;
};

// The checksum of a structure: one's complement of the byte sum, skipping the 4 checksum
// bytes at checksum_offset.
uint32_t checksum(std::span<const uint8_t> bytes, size_t checksum_offset);

// Parses and checks a footer: cookie "conectix", checksum, format version. Errors name the
// field ("VHD footer: checksum 0x... does not match the computed 0x...").
Result<Footer> parse_footer(std::span<const uint8_t> bytes);
std::array<uint8_t, kFooterSize> serialize_footer(const Footer& footer);  // fills in the checksum

// Parses and checks a dynamic header: cookie "cxsparse", checksum, version, block size a
// power of two from 512 bytes to 256 MiB, max table entries within kMaxTableEntries.
Result<DynamicHeader> parse_dynamic_header(std::span<const uint8_t> bytes);
std::array<uint8_t, kDynamicHeaderSize> serialize_dynamic_header(const DynamicHeader& header);

// The geometry the specification's algorithm assigns to a disk of `sectors` sectors.
Geometry geometry_for_sectors(uint64_t sectors);
// The smallest disk of at least `bytes` bytes whose size is a whole CHS geometry (what
// Virtual PC and qemu-img create; tools that size VHDs by geometry then agree with the
// footer's current size). Beyond the largest geometry the size is kept as asked.
uint64_t round_up_to_geometry(uint64_t bytes);

// Bytes of one block's sector bitmap: one bit per sector, padded to whole sectors.
uint32_t bitmap_bytes(uint32_t block_size);

// Seconds since 2000-01-01 UTC for `unix_seconds` (VHD timestamps).
uint32_t timestamp_from_unix(int64_t unix_seconds);

}  // namespace kvpc::vhd
