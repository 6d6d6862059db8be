// Reading a kernel, initrd or firmware file from the host, with errors a user can act on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

// Reads the whole file. Errors name the path and say what is wrong: it does not exist, is
// a directory, cannot be opened or read (with the OS reason), is empty, or is larger than
// max_bytes (checked before reading when the size is known, and while reading otherwise).
Result<std::vector<uint8_t>> read_image_file(const std::string& path, uint64_t max_bytes);

}  // namespace kvpc
