// Accessors for the nasm blobs embedded in the kvpc binary (see blobs.cmake).
#pragma once

#include <cstdint>
#include <span>

namespace kvpc::firmware {
}  // namespace kvpc::firmware
