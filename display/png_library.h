// PngLibrary: libpng, loaded with dlopen the first time a PNG is encoded or decoded.
//
// Why not link it: a screenshot is rare, but a linked libpng costs every VM at start-up —
// libpng's gamma code needs libm, and a mapped libm (relocated, its IFUNC resolvers run, its
// code faulted in 64 KiB windows) is ~0.3 MiB of RSS per VM for four functions nobody calls
// (docs/performance.md, "Memory"). glibc's static libm cannot be linked into a dynamic
// executable, so the library is loaded when it is needed instead.
//
// The table holds exactly the libpng functions png_writer.cc calls, typed from png.h
// (decltype), so a signature mismatch is a compile error.
//
// Concurrency contract: load() may be called from any thread; the first call loads, later
// calls return the same table (or the same error). The library is never unloaded.
#pragma once

#include <png.h>

#include "vmm/result.h"

namespace kvpc {

struct PngLibrary {
  decltype(&::png_create_write_struct) create_write_struct;
  decltype(&::png_create_read_struct) create_read_struct;
  decltype(&::png_create_info_struct) create_info_struct;
  decltype(&::png_destroy_write_struct) destroy_write_struct;
  decltype(&::png_destroy_read_struct) destroy_read_struct;
  decltype(&::png_set_longjmp_fn) set_longjmp_fn;
  decltype(&::png_error) error;
  decltype(&::png_get_io_ptr) get_io_ptr;
  decltype(&::png_set_write_fn) set_write_fn;
  decltype(&::png_set_read_fn) set_read_fn;
  decltype(&::png_set_IHDR) set_IHDR;
  decltype(&::png_set_compression_level) set_compression_level;
  decltype(&::png_write_info) write_info;
  decltype(&::png_write_row) write_row;
  decltype(&::png_write_end) write_end;
  decltype(&::png_sig_cmp) sig_cmp;
  decltype(&::png_read_info) read_info;
  decltype(&::png_get_image_width) get_image_width;
  decltype(&::png_get_image_height) get_image_height;
  decltype(&::png_set_expand) set_expand;
  decltype(&::png_set_strip_16) set_strip_16;
  decltype(&::png_set_gray_to_rgb) set_gray_to_rgb;
  decltype(&::png_set_add_alpha) set_add_alpha;
  decltype(&::png_read_update_info) read_update_info;
  decltype(&::png_get_rowbytes) get_rowbytes;
  decltype(&::png_read_row) read_row;
  decltype(&::png_read_end) read_end;

  // The loaded table, or why libpng (libpng16.so.16) or one of its functions is missing.
  static Result<const PngLibrary*> load();
};

}  // namespace kvpc
