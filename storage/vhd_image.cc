#include "storage/vhd_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace kvpc {

namespace {

// Bounds the bitmap cache (a bitmap is 512 bytes at the default block size): a guest
// touching more blocks than this only costs re-reading bitmaps.
constexpr size_t kMaxCachedBitmaps = 4096;

bool sector_present(const std::vector<uint8_t>& bitmap, uint32_t sector) {
  return (bitmap[sector / 8] >> (7 - sector % 8)) & 1;  // sector 0 is the MSB of byte 0
}

bool ranges_overlap(uint64_t a_start, uint64_t a_length, uint64_t b_start, uint64_t b_length) {
  return a_start < b_start + b_length && b_start < a_start + a_length;
}

}  // namespace

Result<std::unique_ptr<VhdImage>> VhdImage::open(std::unique_ptr<BackingFile> file) {
  const uint64_t file_size = file->size();
  const std::string name(file->describe());
  if (file_size < vhd::kFooterSize) {
    return make_error(fmt::format("{}: VHD: the file is {} bytes, smaller than the 512-byte footer", name, file_size));
  }
  std::array<uint8_t, vhd::kFooterSize> footer_bytes{};
  if (auto status = file->read_at(file_size - vhd::kFooterSize, footer_bytes); !status) return status.error();
  auto footer = vhd::parse_footer(footer_bytes);
  if (!footer) return make_error(fmt::format("{}: {}", name, footer.error().message));

  switch (footer->disk_type) {
    case static_cast<uint32_t>(vhd::DiskType::kFixed):
    case static_cast<uint32_t>(vhd::DiskType::kDynamic):
      break;
    case static_cast<uint32_t>(vhd::DiskType::kDifferencing):
      return make_error(fmt::format("{}: VHD footer: disk type 4 (differencing disk) is not supported yet", name));
    default:
      return make_error(
          fmt::format("{}: VHD footer: disk type {} is not fixed (2) or dynamic (3)", name, footer->disk_type));
  }
  if (footer->current_size == 0 || footer->current_size % kSectorSize != 0) {
    return make_error(fmt::format("{}: VHD footer: current size {} is not a positive multiple of 512", name,
                                  footer->current_size));
  }

  auto image = std::unique_ptr<VhdImage>(new VhdImage(std::move(file), *footer));
  image->footer_bytes_ = footer_bytes;
  image->footer_offset_ = file_size - vhd::kFooterSize;
  if (footer->disk_type == static_cast<uint32_t>(vhd::DiskType::kFixed)) {
    if (footer->current_size > image->footer_offset_) {
      return make_error(fmt::format("{}: VHD footer: current size {} is beyond the file's data ({} bytes before the footer)",
                                    name, footer->current_size, image->footer_offset_));
    }
    return image;
  }
  image->dynamic_ = true;
  if (auto status = image->load_dynamic(); !status) return make_error(fmt::format("{}: {}", name, status.error().message));
  return image;
}

Status VhdImage::load_dynamic() {
  const uint64_t data_end = footer_offset_;  // nothing but the footer lies beyond
  if (footer_.data_offset == vhd::kNoDataOffset || footer_.data_offset > data_end ||
      data_end - footer_.data_offset < vhd::kDynamicHeaderSize) {
    return make_error(fmt::format("VHD footer: data offset {:#x} does not leave room for the dynamic header before the footer "
                                  "at {:#x}",
                                  footer_.data_offset, data_end));
  }
  std::array<uint8_t, vhd::kDynamicHeaderSize> header_bytes{};
  if (auto status = file_->read_at(footer_.data_offset, header_bytes); !status) return status;
  auto header = vhd::parse_dynamic_header(header_bytes);
  if (!header) return header.error();
  header_ = *header;

  const uint64_t needed = (footer_.current_size + header_.block_size - 1) / header_.block_size;
  if (header_.max_table_entries < needed) {
    return make_error(fmt::format("VHD dynamic header: max table entries {} cover less than the disk's {} blocks",
                                  header_.max_table_entries, needed));
  }
  const uint64_t table_bytes = uint64_t{header_.max_table_entries} * 4;
  if (header_.table_offset > data_end || data_end - header_.table_offset < table_bytes) {
    return make_error(fmt::format("VHD dynamic header: table offset {:#x} + {} entries runs past the footer at {:#x}",
                                  header_.table_offset, header_.max_table_entries, data_end));
  }
  std::vector<uint8_t> raw(table_bytes);
  if (auto status = file_->read_at(header_.table_offset, raw); !status) return status;
  bat_.resize(header_.max_table_entries);
  const uint64_t block_span = uint64_t{vhd::bitmap_bytes(header_.block_size)} + header_.block_size;
  for (uint32_t i = 0; i < header_.max_table_entries; ++i) {
    uint32_t entry = uint32_t{raw[4 * i]} << 24 | uint32_t{raw[4 * i + 1]} << 16 | uint32_t{raw[4 * i + 2]} << 8 |
                     raw[4 * i + 3];
    bat_[i] = entry;
    if (entry == vhd::kUnallocated) continue;
    const uint64_t start = uint64_t{entry} * 512;
    if (start < vhd::kFooterSize || start > data_end || data_end - start < block_span ||
        ranges_overlap(start, block_span, footer_.data_offset, vhd::kDynamicHeaderSize) ||
        ranges_overlap(start, block_span, header_.table_offset, table_bytes)) {
      return make_error(fmt::format("VHD BAT: entry {} points at sector {:#x}, and the block there ({} bytes) is not "
                                    "between the metadata and the footer",
                                    i, entry, block_span));
    }
  }
  // Two entries whose blocks overlap would alias: a write through one block would change the
  // other's sectors (and the next bitmap write would clobber data), so such a table is refused
  // like any other malformed one rather than opened as a disk that loses data.
  std::vector<std::pair<uint64_t, uint32_t>> starts;  // (first byte, BAT index), allocated only
  for (uint32_t i = 0; i < header_.max_table_entries; ++i) {
    if (bat_[i] != vhd::kUnallocated) starts.emplace_back(uint64_t{bat_[i]} * 512, i);
  }
  std::sort(starts.begin(), starts.end());
  for (size_t k = 1; k < starts.size(); ++k) {
    if (starts[k].first < starts[k - 1].first + block_span) {
      return make_error(fmt::format("VHD BAT: entries {} and {} point at overlapping blocks (sectors {:#x} and {:#x}, {} "
                                    "bytes each)",
                                    starts[k - 1].second, starts[k].second, starts[k - 1].first / 512,
                                    starts[k].first / 512, block_span));
    }
  }
  return ok_status();
}

uint32_t VhdImage::allocated_blocks() const {
  return static_cast<uint32_t>(std::count_if(bat_.begin(), bat_.end(), [](uint32_t e) { return e != vhd::kUnallocated; }));
}

Status VhdImage::read(uint64_t offset, std::span<uint8_t> out) {
  if (auto status = check_range(offset, out.size(), false); !status) return status;
  if (!dynamic_) return file_->read_at(offset, out);
  while (!out.empty()) {
    const uint32_t block = static_cast<uint32_t>(offset / header_.block_size);
    const uint32_t in_block = static_cast<uint32_t>(offset % header_.block_size);
    const size_t length = std::min<uint64_t>(out.size(), header_.block_size - in_block);
    if (auto status = read_in_block(block, in_block, out.first(length)); !status) return status;
    out = out.subspan(length);
    offset += length;
  }
  return ok_status();
}

Status VhdImage::write(uint64_t offset, std::span<const uint8_t> in) {
  if (auto status = check_range(offset, in.size(), true); !status) return status;
  if (!dynamic_) return file_->write_at(offset, in);
  while (!in.empty()) {
    const uint32_t block = static_cast<uint32_t>(offset / header_.block_size);
    const uint32_t in_block = static_cast<uint32_t>(offset % header_.block_size);
    const size_t length = std::min<uint64_t>(in.size(), header_.block_size - in_block);
    if (auto status = write_in_block(block, in_block, in.first(length)); !status) return status;
    in = in.subspan(length);
    offset += length;
  }
  return ok_status();
}

Result<std::vector<uint8_t>*> VhdImage::bitmap(uint32_t block) {
  if (auto found = bitmaps_.find(block); found != bitmaps_.end()) return &found->second;
  if (bitmaps_.size() >= kMaxCachedBitmaps) bitmaps_.clear();
  std::vector<uint8_t> bits(vhd::bitmap_bytes(header_.block_size));
  if (auto status = file_->read_at(uint64_t{bat_[block]} * 512, bits); !status) return status.error();
  return &bitmaps_.emplace(block, std::move(bits)).first->second;
}

Status VhdImage::read_in_block(uint32_t block, uint32_t offset, std::span<uint8_t> out) {
  if (bat_[block] == vhd::kUnallocated) {
    std::memset(out.data(), 0, out.size());
    return ok_status();
  }
  auto bits = bitmap(block);
  if (!bits) return bits.error();
  // Runs of sectors that are all present (read from the file) or all absent (zeros).
  uint32_t sector = offset / kSectorSize;
  const uint32_t end = sector + static_cast<uint32_t>(out.size() / kSectorSize);
  size_t done = 0;
  while (sector < end) {
    const bool present = sector_present(**bits, sector);
    uint32_t run_end = sector + 1;
    while (run_end < end && sector_present(**bits, run_end) == present) ++run_end;
    const size_t length = size_t{run_end - sector} * kSectorSize;
    auto part = out.subspan(done, length);
    if (present) {
      if (auto status = file_->read_at(block_data_offset(block) + uint64_t{sector} * kSectorSize, part); !status) {
        return status;
      }
    } else {
      std::memset(part.data(), 0, part.size());
    }
    done += length;
    sector = run_end;
  }
  return ok_status();
}

Status VhdImage::write_in_block(uint32_t block, uint32_t offset, std::span<const uint8_t> in) {
  if (bat_[block] == vhd::kUnallocated) return allocate_block(block, offset, in);
  if (auto status = file_->write_at(block_data_offset(block) + offset, in); !status) return status;
  auto bits = bitmap(block);
  if (!bits) return bits.error();
  bool changed = false;
  const uint32_t first = offset / kSectorSize;
  const uint32_t end = first + static_cast<uint32_t>(in.size() / kSectorSize);
  for (uint32_t sector = first; sector < end; ++sector) {
    if (!sector_present(**bits, sector)) {
      (**bits)[sector / 8] |= static_cast<uint8_t>(0x80u >> (sector % 8));
      changed = true;
    }
  }
  // Data first, then the bit that makes it visible: a crash in between loses only this
  // (unacknowledged) write.
  if (!changed) return ok_status();
  auto status = file_->write_at(uint64_t{bat_[block]} * 512, **bits);
  // A refused bitmap write leaves the bits set only in the cache: drop it, so the block reads
  // as the file says (the write is not acknowledged, so it must not show now, nor be
  // published by the next bitmap write of a later request).
  if (!status) bitmaps_.erase(block);
  return status;
}

Status VhdImage::allocate_block(uint32_t block, uint32_t offset, std::span<const uint8_t> in) {
  const uint32_t bitmap_size = vhd::bitmap_bytes(header_.block_size);
  const uint64_t start = (footer_offset_ + 511) / 512 * 512;
  const uint64_t block_end = start + bitmap_size + header_.block_size;
  if (start / 512 >= vhd::kUnallocated) {
    return make_error(fmt::format("VHD: a new block at {:#x} is beyond what a BAT entry can address", start));
  }
  // 1. The footer at the new end of file.
  if (auto status = file_->write_at(block_end, footer_bytes_); !status) return status;
  // 2. Bitmap (every sector present) and data, written over the old footer.
  scratch_.assign(bitmap_size + size_t{header_.block_size}, 0);
  std::memset(scratch_.data(), 0xFF, bitmap_size);
  std::memcpy(scratch_.data() + bitmap_size + offset, in.data(), in.size());
  if (auto status = file_->write_at(start, scratch_); !status) return status;
  footer_offset_ = block_end;
  // 3. Durable before the BAT points at it.
  if (auto status = file_->sync(); !status) return status;
  // 4. The BAT entry.
  const uint32_t entry = static_cast<uint32_t>(start / 512);
  const uint8_t entry_bytes[4] = {static_cast<uint8_t>(entry >> 24), static_cast<uint8_t>(entry >> 16),
                                  static_cast<uint8_t>(entry >> 8), static_cast<uint8_t>(entry)};
  if (auto status = file_->write_at(header_.table_offset + uint64_t{block} * 4, entry_bytes); !status) return status;
  bat_[block] = entry;
  if (bitmaps_.size() >= kMaxCachedBitmaps) bitmaps_.clear();
  bitmaps_[block] = std::vector<uint8_t>(scratch_.begin(), scratch_.begin() + bitmap_size);
  return ok_status();
}

namespace {

std::array<uint8_t, 16> random_unique_id() {
  std::random_device device;
  std::array<uint8_t, 16> id{};
  for (auto& byte : id) byte = static_cast<uint8_t>(device());
  return id;
}

}  // namespace

Result<uint64_t> create_image(BackingFile& file, const DiskCreateOptions& options) {
  if (options.size_bytes == 0) return make_error("disk size must be positive");
  if (options.format == ImageFormat::kRaw) {
    const uint64_t size = (options.size_bytes + 511) / 512 * 512;
    const std::array<uint8_t, 512> last_sector{};
    if (auto status = file.write_at(size - 512, last_sector); !status) return status.error();
    return size;
  }
  if (options.format != ImageFormat::kVhd) return make_error("create: choose raw or vhd");
  const uint64_t size = vhd::round_up_to_geometry(options.size_bytes);
  if (size / 512 > vhd::kMaxGeometrySectors) {
    return make_error(fmt::format("VHD: {} bytes is beyond the format's 2040 GiB limit (65535x16x255 sectors)", size));
  }
  vhd::Footer footer;
  footer.timestamp = vhd::timestamp_from_unix(static_cast<int64_t>(std::time(nullptr)));
  footer.original_size = size;
  footer.current_size = size;
  footer.geometry = vhd::geometry_for_sectors(size / 512);
  footer.unique_id = random_unique_id();
  if (options.fixed) {
    footer.disk_type = static_cast<uint32_t>(vhd::DiskType::kFixed);
    footer.data_offset = vhd::kNoDataOffset;
    if (auto status = file.write_at(size, vhd::serialize_footer(footer)); !status) return status.error();
    return size;
  }
  const uint32_t block_size = options.block_size;
  if (block_size < 512 || block_size > (256u << 20) || (block_size & (block_size - 1)) != 0) {
    return make_error(fmt::format("VHD: block size {} is not a power of two from 512 bytes to 256 MiB", block_size));
  }
  const uint64_t entries = (size + block_size - 1) / block_size;
  if (entries > vhd::kMaxTableEntries) return make_error("VHD: too many blocks for this block size; use larger blocks");
  footer.disk_type = static_cast<uint32_t>(vhd::DiskType::kDynamic);
  footer.data_offset = vhd::kFooterSize;
  vhd::DynamicHeader header;
  header.table_offset = vhd::kFooterSize + vhd::kDynamicHeaderSize;
  header.max_table_entries = static_cast<uint32_t>(entries);
  header.block_size = block_size;
  std::vector<uint8_t> bat((entries * 4 + 511) / 512 * 512, 0xFF);
  const auto footer_bytes = vhd::serialize_footer(footer);
  if (auto status = file.write_at(0, footer_bytes); !status) return status.error();
  if (auto status = file.write_at(vhd::kFooterSize, vhd::serialize_dynamic_header(header)); !status) return status.error();
  if (auto status = file.write_at(header.table_offset, bat); !status) return status.error();
  if (auto status = file.write_at(header.table_offset + bat.size(), footer_bytes); !status) return status.error();
  return size;
}

Result<uint64_t> create_image_file(const std::string& path, const DiskCreateOptions& options) {
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(fmt::format("{}: {}", path, std::strerror(errno)));
  ::close(fd);
  auto file = FdBackingFile::open(path, false);
  if (!file) {
    ::unlink(path.c_str());
    return file.error();
  }
  auto size = create_image(**file, options);
  if (size) {
    if (auto status = (*file)->sync(); !status) size = status.error();
  }
  if (!size) ::unlink(path.c_str());
  return size;
}

}  // namespace kvpc
