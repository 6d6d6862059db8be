#include "display/png_writer.h"

#include "display/png_library.h"

#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {
namespace {

// The callbacks below run only inside encode/decode, after load() succeeded.
const PngLibrary& lib() { return *PngLibrary::load().value(); }

void append_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(lib().get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}
void flush_nothing(png_structp) {}

struct ReadCursor {
  const std::vector<uint8_t>* bytes;
  size_t at;
};
void read_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* cursor = static_cast<ReadCursor*>(lib().get_io_ptr(png));
  if (cursor->at + length > cursor->bytes->size()) lib().error(png, "truncated PNG");
  std::memcpy(data, cursor->bytes->data() + cursor->at, length);
  cursor->at += length;
}

}  // namespace

Result<std::vector<uint8_t>> encode_png(const Frame& frame) {
  if (frame.width == 0 || frame.height == 0) return make_error("the screen has no picture (0x0)");
  auto loaded = PngLibrary::load();
  if (!loaded) return make_error(fmt::format("PNG: {}", loaded.error().message));
  const PngLibrary& p = **loaded;
  std::vector<uint8_t> out;
  png_structp png = p.create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return make_error("libpng: cannot create a write struct");
  png_infop info = p.create_info_struct(png);
  if (info == nullptr) {
    p.destroy_write_struct(&png, nullptr);
    return make_error("libpng: cannot create an info struct");
  }
  // libpng reports errors by longjmp; nothing with a destructor is created between here and
  // the end of the encode except `out`, which lives outside this frame.
  if (setjmp(*p.set_longjmp_fn(png, longjmp, sizeof(jmp_buf)))) {
    p.destroy_write_struct(&png, &info);
    return make_error("libpng failed to encode the screenshot");
  }
  p.set_write_fn(png, &out, append_bytes, flush_nothing);
  p.set_IHDR(png, info, frame.width, frame.height, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  p.set_compression_level(png, 6);
  p.write_info(png, info);
  for (uint32_t y = 0; y < frame.height; ++y) p.write_row(png, const_cast<png_bytep>(frame.row(y)));
  p.write_end(png, nullptr);
  p.destroy_write_struct(&png, &info);
  return out;
}

Result<Frame> decode_png(const std::vector<uint8_t>& bytes) {
  auto loaded = PngLibrary::load();
  if (!loaded) return make_error(fmt::format("PNG: {}", loaded.error().message));
  const PngLibrary& p = **loaded;
  if (bytes.size() < 8 || p.sig_cmp(bytes.data(), 0, 8) != 0) return make_error("not a PNG file");
  png_structp png = p.create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return make_error("libpng: cannot create a read struct");
  png_infop info = p.create_info_struct(png);
  if (info == nullptr) {
    p.destroy_read_struct(&png, nullptr, nullptr);
    return make_error("libpng: cannot create an info struct");
  }
  Frame* frame = new Frame();  // raw: must survive a longjmp out of libpng without a destructor skipped
  ReadCursor cursor{&bytes, 0};
  if (setjmp(*p.set_longjmp_fn(png, longjmp, sizeof(jmp_buf)))) {
    p.destroy_read_struct(&png, &info, nullptr);
    delete frame;
    return make_error("malformed PNG");
  }
  p.set_read_fn(png, &cursor, read_bytes);
  p.read_info(png, info);
  const png_uint_32 width = p.get_image_width(png, info), height = p.get_image_height(png, info);
  if (width == 0 || height == 0 || uint64_t{width} * height > (16u << 20)) p.error(png, "PNG size out of range");
  p.set_expand(png);
  p.set_strip_16(png);
  p.set_gray_to_rgb(png);
  p.set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
  p.read_update_info(png, info);
  if (p.get_rowbytes(png, info) != size_t{width} * 4) p.error(png, "unexpected PNG row size");
  frame->resize(width, height);
  for (uint32_t y = 0; y < height; ++y) p.read_row(png, frame->row(y), nullptr);
  p.read_end(png, nullptr);
  p.destroy_read_struct(&png, &info, nullptr);
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
