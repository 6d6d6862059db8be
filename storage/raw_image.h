// RawImage: the disk's bytes are the file's bytes, sector for sector.
//
// The disk's size is the file's size rounded down to whole sectors (a trailing partial
// sector is not visible to the guest). Concurrency: as BlockImage.
#pragma once

#include "storage/block_image.h"

namespace kvpc {

class RawImage final : public BlockImage {
 public:
  static Result<std::unique_ptr<RawImage>> open(std::unique_ptr<BackingFile> file);

  std::string_view format_name() const override { return "raw"; }
  uint64_t size_bytes() const override { return size_; }
  bool read_only() const override { return !file_->writable(); }
  Status read(uint64_t offset, std::span<uint8_t> out) override;
  Status write(uint64_t offset, std::span<const uint8_t> in) override;
  Status flush() override { return file_->sync(); }

 private:
  RawImage(std::unique_ptr<BackingFile> file, uint64_t size) : file_(std::move(file)), size_(size) {}
  std::unique_ptr<BackingFile> file_;
  uint64_t size_;
};

}  // namespace kvpc
