#include "display/png_library.h"

#include "display/dynamic_library.h"

namespace kvpc {
namespace {

constexpr const char* kSoname = "libpng16.so.16";  // the ABI png.h (libpng 1.6) describes

Result<const PngLibrary*> load_once() {
  auto library = DynamicLibrary::open(kSoname);
  if (!library) return library.error();
  static PngLibrary png;
  std::string error;
#define KVPC_PNG_RESOLVE(name) library->resolve("png_" #name, png.name, error)
  const bool complete =
      KVPC_PNG_RESOLVE(create_write_struct) && KVPC_PNG_RESOLVE(create_read_struct) &&
      KVPC_PNG_RESOLVE(create_info_struct) && KVPC_PNG_RESOLVE(destroy_write_struct) &&
      KVPC_PNG_RESOLVE(destroy_read_struct) && KVPC_PNG_RESOLVE(set_longjmp_fn) && KVPC_PNG_RESOLVE(error) &&
      KVPC_PNG_RESOLVE(get_io_ptr) && KVPC_PNG_RESOLVE(set_write_fn) && KVPC_PNG_RESOLVE(set_read_fn) &&
      KVPC_PNG_RESOLVE(set_IHDR) && KVPC_PNG_RESOLVE(set_compression_level) && KVPC_PNG_RESOLVE(write_info) &&
      KVPC_PNG_RESOLVE(write_row) && KVPC_PNG_RESOLVE(write_end) && KVPC_PNG_RESOLVE(sig_cmp) &&
      KVPC_PNG_RESOLVE(read_info) && KVPC_PNG_RESOLVE(get_image_width) && KVPC_PNG_RESOLVE(get_image_height) &&
      KVPC_PNG_RESOLVE(set_expand) && KVPC_PNG_RESOLVE(set_strip_16) && KVPC_PNG_RESOLVE(set_gray_to_rgb) &&
      KVPC_PNG_RESOLVE(set_add_alpha) && KVPC_PNG_RESOLVE(read_update_info) && KVPC_PNG_RESOLVE(get_rowbytes) &&
      KVPC_PNG_RESOLVE(read_row) && KVPC_PNG_RESOLVE(read_end);
#undef KVPC_PNG_RESOLVE
  if (!complete) return make_error(error);
  return &png;
}

}  // namespace

Result<const PngLibrary*> PngLibrary::load() {
  static const Result<const PngLibrary*> loaded = load_once();
  return loaded;
}

}  // namespace kvpc
