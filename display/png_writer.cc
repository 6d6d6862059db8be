#include "display/png_writer.h"

#include <png.h>

#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {
namespace {

void append_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}
void flush_nothing(png_structp) {}

struct ReadCursor {
  const std::vector<uint8_t>* bytes;
  size_t at;
};
void read_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* cursor = static_cast<ReadCursor*>(png_get_io_ptr(png));
  if (cursor->at + length > cursor->bytes->size()) png_error(png, "truncated PNG");
  std::memcpy(data, cursor->bytes->data() + cursor->at, length);
  cursor->at += length;
}

}  // namespace

Result<std::vector<uint8_t>> encode_png(const Frame& frame) {
  if (frame.width == 0 || frame.height == 0) return make_error("the screen has no picture (0x0)");
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return make_error("libpng: cannot create a write struct");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return make_error("libpng: cannot create an info struct");
  }
  // libpng reports errors by longjmp; nothing with a destructor is created between here and
  // the end of the encode except `out`, which lives outside this frame.
  if (setjmp(*png_set_longjmp_fn(png, longjmp, sizeof(jmp_buf)))) {
    png_destroy_write_struct(&png, &info);
    return make_error("libpng failed to encode the screenshot");
  }
  png_set_write_fn(png, &out, append_bytes, flush_nothing);
  png_set_IHDR(png, info, frame.width, frame.height, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  for (uint32_t y = 0; y < frame.height; ++y) png_write_row(png, const_cast<png_bytep>(frame.row(y)));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

Result<Frame> decode_png(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0) return make_error("not a PNG file");
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return make_error("libpng: cannot create a read struct");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return make_error("libpng: cannot create an info struct");
  }
  Frame* frame = new Frame();  // raw: must survive a longjmp out of libpng without a destructor skipped
  ReadCursor cursor{&bytes, 0};
  if (setjmp(*png_set_longjmp_fn(png, longjmp, sizeof(jmp_buf)))) {
    png_destroy_read_struct(&png, &info, nullptr);
    delete frame;
    return make_error("malformed PNG");
  }
  png_set_read_fn(png, &cursor, read_bytes);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  if (width == 0 || height == 0 || uint64_t{width} * height > (16u << 20)) png_error(png, "PNG size out of range");
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_gray_to_rgb(png);
  png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != size_t{width} * 4) png_error(png, "unexpected PNG row size");
  frame->resize(width, height);
  for (uint32_t y = 0; y < height; ++y) png_read_row(png, frame->row(y), nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  Frame result = std::move(*frame);
  delete frame;
  return result;
}

Status write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string temporary = path + ".tmp" + std::to_string(getpid());
  FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) return make_error(fmt::format("cannot create {}: {}", temporary, std::strerror(errno)));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    std::remove(temporary.c_str());
    return make_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    return make_error(fmt::format("cannot write {}: {}", path, std::strerror(error)));
  }
  return ok_status();
}

}  // namespace kvpc
