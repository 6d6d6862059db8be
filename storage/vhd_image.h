// VhdImage: a fixed or dynamic VHD (Virtual PC's disk format) as a BlockImage.
//
// Fixed: the disk's bytes, then the footer. Dynamic: a footer copy at offset 0, the dynamic
// header, the block allocation table (BAT), then blocks in allocation order, each a sector
// bitmap (one bit per sector, padded to 512 bytes) followed by block_size bytes of data, and
// the footer as the file's last 512 bytes. Differencing disks (type 4) are refused with
// "not supported yet".
//
// Reads: an unallocated block (BAT entry 0xFFFFFFFF) reads as zeros; in an allocated block a
// sector whose bitmap bit is clear reads as zeros too (the specification's meaning for
// dynamic disks), so images other tools wrote sparsely inside a block read correctly.
//
// Writes to an unallocated block allocate it at the end of the file, in this order:
//   1. the footer is written at the new end of file (the file is never without a footer
//      at its end, whatever point a crash interrupts);
//   2. the bitmap (all sectors present) and the block's data — zeros around the guest's
//      bytes — are written where the old footer was;
//   3. fdatasync: the block is durable before anything points at it;
//   4. the BAT entry is written.
// A crash before 4 leaves an unreferenced block (harmless garbage the next allocation
// never reuses because the footer moved past it); after 4 the block is complete. The
// footer copy at offset 0 does not change (nothing in it depends on the file's length).
// Writes into an allocated block whose bitmap has clear bits set those bits after the
// data is written.
//
// Concurrency contract: as BlockImage — one thread at a time.
#pragma once

#include <unordered_map>
#include <vector>

#include "storage/block_image.h"
#include "storage/vhd_format.h"

namespace kvpc {

class VhdImage final : public BlockImage {
 public:
  // Checks the footer, the dynamic header and every BAT entry against the file's size.
  // Errors say which field is wrong.
  static Result<std::unique_ptr<VhdImage>> open(std::unique_ptr<BackingFile> file);

  std::string_view format_name() const override { return dynamic_ ? "vhd-dynamic" : "vhd-fixed"; }
  uint64_t size_bytes() const override { return footer_.current_size; }
  bool read_only() const override { return !file_->writable(); }
  Status read(uint64_t offset, std::span<uint8_t> out) override;
  Status write(uint64_t offset, std::span<const uint8_t> in) override;
  Status flush() override { return file_->sync(); }

  const vhd::Footer& footer() const { return footer_; }
  bool dynamic() const { return dynamic_; }
  uint32_t block_size() const { return header_.block_size; }
  // The BAT entry (sector offset of the block's bitmap) or vhd::kUnallocated.
  uint32_t bat_entry(uint32_t block) const { return block < bat_.size() ? bat_[block] : vhd::kUnallocated; }
  uint32_t allocated_blocks() const;

 private:
  VhdImage(std::unique_ptr<BackingFile> file, vhd::Footer footer) : file_(std::move(file)), footer_(footer) {}
  Status load_dynamic();
  // One block's part of a transfer: [offset, offset+length) lies inside block `block`.
  Status read_in_block(uint32_t block, uint32_t offset, std::span<uint8_t> out);
  Status write_in_block(uint32_t block, uint32_t offset, std::span<const uint8_t> in);
  Status allocate_block(uint32_t block, uint32_t offset, std::span<const uint8_t> in);
  Result<std::vector<uint8_t>*> bitmap(uint32_t block);
  uint64_t block_data_offset(uint32_t block) const {
    return uint64_t{bat_[block]} * 512 + vhd::bitmap_bytes(header_.block_size);
  }

  std::unique_ptr<BackingFile> file_;
  vhd::Footer footer_;
  std::array<uint8_t, vhd::kFooterSize> footer_bytes_{};
  bool dynamic_ = false;
  vhd::DynamicHeader header_;
  std::vector<uint32_t> bat_;
  uint64_t footer_offset_ = 0;  // where the trailing footer sits: the next block goes here
  std::unordered_map<uint32_t, std::vector<uint8_t>> bitmaps_;  // of blocks touched so far
  std::vector<uint8_t> scratch_;  // a whole new block (bitmap + data), reused
};

// Creates images (tests, `kvpc disk create`).
struct DiskCreateOptions {
  uint64_t size_bytes = 0;
  ImageFormat format = ImageFormat::kVhd;
  bool fixed = false;                       // VHD only: fixed instead of dynamic
  uint32_t block_size = vhd::kDefaultBlockSize;  // dynamic VHD only
};
// Writes a new empty image into `file` (which should be empty). VHD sizes are rounded up to
// a whole CHS geometry (as Virtual PC and qemu-img do); returns the disk's size in bytes.
Result<uint64_t> create_image(BackingFile& file, const DiskCreateOptions& options);
// The same into a new file at `path` (fails if it exists).
Result<uint64_t> create_image_file(const std::string& path, const DiskCreateOptions& options);

}  // namespace kvpc
