#include "storage/raw_image.h"

#include <fmt/format.h>

namespace kvpc {

Result<std::unique_ptr<RawImage>> RawImage::open(std::unique_ptr<BackingFile> file) {
  uint64_t size = file->size() / kSectorSize * kSectorSize;
  if (size == 0) {
    return make_error(fmt::format("{}: raw image is smaller than one 512-byte sector", file->describe()));
  }
  return std::unique_ptr<RawImage>(new RawImage(std::move(file), size));
}

Status RawImage::read(uint64_t offset, std::span<uint8_t> out) {
  if (auto status = check_range(offset, out.size(), false); !status) return status;
  return file_->read_at(offset, out);
}

Status RawImage::write(uint64_t offset, std::span<const uint8_t> in) {
  if (auto status = check_range(offset, in.size(), true); !status) return status;
  return file_->write_at(offset, in);
}

}  // namespace kvpc
