// PNG encoding of a Frame with libpng (8-bit RGBA, no interlace).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "display/frame.h"
#include "vmm/result.h"

namespace kvpc {

// The PNG file bytes for `frame`. Fails only for an empty frame or a libpng error.
Result<std::vector<uint8_t>> encode_png(const Frame& frame);
// Writes `bytes` to `path` atomically (temporary file + rename), so a reader never sees half a PNG.
Status write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);
// Reads a PNG back into a Frame (for tests and `kvpc screenshot` checks). Refuses files
// larger than 64 MiB decoded.
Result<Frame> decode_png(const std::vector<uint8_t>& bytes);

}  // namespace kvpc
