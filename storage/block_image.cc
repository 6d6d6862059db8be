#include "storage/block_image.h"

#include <fmt/format.h>

#include "storage/raw_image.h"
#include "storage/vhd_format.h"
#include "storage/vhd_image.h"

namespace kvpc {

Status BlockImage::check_range(uint64_t offset, uint64_t length, bool writing) const {
  if (writing && read_only()) return make_error("the disk is read-only");
  if (offset % kSectorSize != 0 || length % kSectorSize != 0) {
    return make_error(fmt::format("transfer at {} of {} bytes is not in whole 512-byte sectors", offset, length));
  }
  if (offset > size_bytes() || length > size_bytes() - offset) {
    return make_error(fmt::format("transfer at {} of {} bytes runs past the disk's {} bytes", offset, length, size_bytes()));
  }
  return ok_status();
}

Result<ImageFormat> parse_image_format(std::string_view text) {
  if (text == "raw") return ImageFormat::kRaw;
  if (text == "vhd") return ImageFormat::kVhd;
  if (text == "auto") return ImageFormat::kAuto;
  return make_error(fmt::format("format {}: use raw or vhd", text));
}

namespace {

bool ends_with_vhd_cookie(BackingFile& file) {
  if (file.size() < vhd::kFooterSize) return false;
  std::array<uint8_t, 8> cookie{};
  if (!file.read_at(file.size() - vhd::kFooterSize, cookie)) return false;
  return std::string_view(reinterpret_cast<const char*>(cookie.data()), cookie.size()) == "conectix";
}

bool has_vhd_extension(std::string_view path) {
  if (path.size() < 4) return false;
  std::string tail(path.substr(path.size() - 4));
  for (auto& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return tail == ".vhd";
}

}  // namespace

Result<std::unique_ptr<BlockImage>> open_block_image(std::unique_ptr<BackingFile> file, ImageFormat format) {
  if (format == ImageFormat::kAuto) {
    format = ends_with_vhd_cookie(*file) || has_vhd_extension(file->describe()) ? ImageFormat::kVhd : ImageFormat::kRaw;
  }
  if (format == ImageFormat::kVhd) {
    auto image = VhdImage::open(std::move(file));
    if (!image) return image.error();
    return std::unique_ptr<BlockImage>(std::move(image).value());
  }
  auto image = RawImage::open(std::move(file));
  if (!image) return image.error();
  return std::unique_ptr<BlockImage>(std::move(image).value());
}

Result<std::unique_ptr<BlockImage>> open_block_image(const std::string& path, ImageFormat format, bool read_only) {
  auto file = FdBackingFile::open(path, read_only);
  if (!file) return file.error();
  return open_block_image(std::unique_ptr<BackingFile>(std::move(file).value()), format);
}

}  // namespace kvpc
