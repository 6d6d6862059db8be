#include "storage/vhd_format.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>

namespace kvpc::vhd {

namespace {

constexpr char kFooterCookie[8] = {'c', 'o', 'n', 'e', 'c', 't', 'i', 'x'};
constexpr char kDynamicCookie[8] = {'c', 'x', 's', 'p', 'a', 'r', 's', 'e'};
constexpr size_t kFooterChecksumOffset = 64;
constexpr size_t kDynamicChecksumOffset = 36;
constexpr uint32_t kMaxBlockSize = 256u << 20;

uint64_t load_be(std::span<const uint8_t> bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value = (value << 8) | bytes[offset + i];
  return value;
}

void store_be(std::span<uint8_t> bytes, size_t offset, size_t width, uint64_t value) {
  for (size_t i = 0; i < width; ++i) bytes[offset + width - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace

uint32_t checksum(std::span<const uint8_t> bytes, size_t checksum_offset) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i >= checksum_offset && i < checksum_offset + 4) continue;
    sum += bytes[i];
  }
  return ~sum;
}

Result<Footer> parse_footer(std::span<const uint8_t> bytes) {
  if (bytes.size() < kFooterSize) {
    return make_error(fmt::format("VHD footer: {} bytes, need {}", bytes.size(), kFooterSize));
  }
  bytes = bytes.first(kFooterSize);
  if (std::memcmp(bytes.data(), kFooterCookie, sizeof kFooterCookie) != 0) {
    return make_error("VHD footer: cookie is not \"conectix\" (not a VHD image, or its footer is damaged)");
  }
  uint32_t stored = static_cast<uint32_t>(load_be(bytes, kFooterChecksumOffset, 4));
  uint32_t computed = checksum(bytes, kFooterChecksumOffset);
  if (stored != computed) {
    return make_error(fmt::format("VHD footer: checksum {:#010x} does not match the computed {:#010x}", stored, computed));
  }
  Footer footer;
  footer.features = static_cast<uint32_t>(load_be(bytes, 8, 4));
  footer.format_version = static_cast<uint32_t>(load_be(bytes, 12, 4));
  if ((footer.format_version >> 16) != 1) {
    return make_error(fmt::format("VHD footer: file format version {:#010x} is not 1.x", footer.format_version));
  }
  footer.data_offset = load_be(bytes, 16, 8);
  footer.timestamp = static_cast<uint32_t>(load_be(bytes, 24, 4));
  std::memcpy(footer.creator_app.data(), bytes.data() + 28, 4);
  footer.creator_version = static_cast<uint32_t>(load_be(bytes, 32, 4));
  footer.creator_host_os = static_cast<uint32_t>(load_be(bytes, 36, 4));
  footer.original_size = load_be(bytes, 40, 8);
  footer.current_size = load_be(bytes, 48, 8);
  footer.geometry.cylinders = static_cast<uint16_t>(load_be(bytes, 56, 2));
  footer.geometry.heads = bytes[58];
  footer.geometry.sectors_per_track = bytes[59];
  footer.disk_type = static_cast<uint32_t>(load_be(bytes, 60, 4));
  std::memcpy(footer.unique_id.data(), bytes.data() + 68, 16);
  footer.saved_state = bytes[84];
  return footer;
}

std::array<uint8_t, kFooterSize> serialize_footer(const Footer& footer) {
  std::array<uint8_t, kFooterSize> bytes{};
  std::memcpy(bytes.data(), kFooterCookie, sizeof kFooterCookie);
  store_be(bytes, 8, 4, footer.features);
  store_be(bytes, 12, 4, footer.format_version);
  store_be(bytes, 16, 8, footer.data_offset);
  store_be(bytes, 24, 4, footer.timestamp);
  std::memcpy(bytes.data() + 28, footer.creator_app.data(), 4);
  store_be(bytes, 32, 4, footer.creator_version);
  store_be(bytes, 36, 4, footer.creator_host_os);
  store_be(bytes, 40, 8, footer.original_size);
  store_be(bytes, 48, 8, footer.current_size);
  store_be(bytes, 56, 2, footer.geometry.cylinders);
  bytes[58] = footer.geometry.heads;
  bytes[59] = footer.geometry.sectors_per_track;
  store_be(bytes, 60, 4, footer.disk_type);
  std::memcpy(bytes.data() + 68, footer.unique_id.data(), 16);
  bytes[84] = footer.saved_state;
  store_be(bytes, kFooterChecksumOffset, 4, checksum(bytes, kFooterChecksumOffset));
  return bytes;
}

Result<DynamicHeader> parse_dynamic_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kDynamicHeaderSize) {
    return make_error(fmt::format("VHD dynamic header: {} bytes, need {}", bytes.size(), kDynamicHeaderSize));
  }
  bytes = bytes.first(kDynamicHeaderSize);
  if (std::memcmp(bytes.data(), kDynamicCookie, sizeof kDynamicCookie) != 0) {
    return make_error("VHD dynamic header: cookie is not \"cxsparse\"");
  }
  uint32_t stored = static_cast<uint32_t>(load_be(bytes, kDynamicChecksumOffset, 4));
  uint32_t computed = checksum(bytes, kDynamicChecksumOffset);
  if (stored != computed) {
    return make_error(
        fmt::format("VHD dynamic header: checksum {:#010x} does not match the computed {:#010x}", stored, computed));
  }
  DynamicHeader header;
  header.data_offset = load_be(bytes, 8, 8);
  header.table_offset = load_be(bytes, 16, 8);
  header.header_version = static_cast<uint32_t>(load_be(bytes, 24, 4));
  header.max_table_entries = static_cast<uint32_t>(load_be(bytes, 28, 4));
  header.block_size = static_cast<uint32_t>(load_be(bytes, 32, 4));
  if ((header.header_version >> 16) != 1) {
    return make_error(fmt::format("VHD dynamic header: header version {:#010x} is not 1.x", header.header_version));
  }
  if (header.block_size < 512 || header.block_size > kMaxBlockSize || !std::has_single_bit(header.block_size)) {
    return make_error(fmt::format("VHD dynamic header: block size {} is not a power of two from 512 bytes to 256 MiB",
                                  header.block_size));
  }
  if (header.max_table_entries > kMaxTableEntries) {
    return make_error(fmt::format("VHD dynamic header: max table entries {} exceeds kvpc's limit of {}",
                                  header.max_table_entries, kMaxTableEntries));
  }
  return header;
}

std::array<uint8_t, kDynamicHeaderSize> serialize_dynamic_header(const DynamicHeader& header) {
  std::array<uint8_t, kDynamicHeaderSize> bytes{};
  std::memcpy(bytes.data(), kDynamicCookie, sizeof kDynamicCookie);
  store_be(bytes, 8, 8, header.data_offset);
  store_be(bytes, 16, 8, header.table_offset);
  store_be(bytes, 24, 4, header.header_version);
  store_be(bytes, 28, 4, header.max_table_entries);
  store_be(bytes, 32, 4, header.block_size);
  store_be(bytes, kDynamicChecksumOffset, 4, checksum(bytes, kDynamicChecksumOffset));
  return bytes;
}

Geometry geometry_for_sectors(uint64_t sectors) {
  // The specification's algorithm (appendix "CHS calculation"), kept step for step.
  uint64_t total = sectors > kMaxGeometrySectors ? kMaxGeometrySectors : sectors;
  uint64_t per_track = 0;
  uint64_t heads = 0;
  uint64_t cylinder_times_heads = 0;
  if (total >= 65535ULL * 16 * 63) {
    per_track = 255;
    heads = 16;
    cylinder_times_heads = total / per_track;
  } else {
    per_track = 17;
    cylinder_times_heads = total / per_track;
    heads = (cylinder_times_heads + 1023) / 1024;
    if (heads < 4) heads = 4;
    if (cylinder_times_heads >= heads * 1024 || heads > 16) {
      per_track = 31;
      heads = 16;
      cylinder_times_heads = total / per_track;
    }
    if (cylinder_times_heads >= heads * 1024) {
      per_track = 63;
      heads = 16;
      cylinder_times_heads = total / per_track;
    }
  }
  return Geometry{static_cast<uint16_t>(cylinder_times_heads / heads), static_cast<uint8_t>(heads),
                  static_cast<uint8_t>(per_track)};
}

uint64_t round_up_to_geometry(uint64_t bytes) {
  uint64_t sectors = (bytes + 511) / 512;
  if (sectors >= kMaxGeometrySectors) return sectors * 512;
  // The geometry of n sectors covers at most n; step n up until it covers what was asked.
  for (uint64_t candidate = sectors; candidate <= kMaxGeometrySectors; ++candidate) {
    Geometry geometry = geometry_for_sectors(candidate);
    if (geometry.total_sectors() >= sectors) return geometry.total_sectors() * 512;
  }
  return sectors * 512;
}

uint32_t bitmap_bytes(uint32_t block_size) {
  uint32_t bits = block_size / 512;
  uint32_t bytes = (bits + 7) / 8;
  return (bytes + 511) / 512 * 512;
}

uint32_t timestamp_from_unix(int64_t unix_seconds) {
  constexpr int64_t kVhdEpoch = 946684800;  // 2000-01-01 00:00:00 UTC
  return unix_seconds < kVhdEpoch ? 0 : static_cast<uint32_t>(unix_seconds - kVhdEpoch);
}

}  // namespace kvpc::vhd
