// Which loader a --kernel image needs: from the --kernel-format flag, or detected from
// the image's bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vmm/result.h"

namespace kvpc {

enum class KernelFormat { kAuto, kMultiboot, kKvpc64, kFlat, kLinuxBzImage, kLinuxPvh };

// "auto", "multiboot", "kvpc64", "flat", "linux" (bzImage) or "pvh" (vmlinux) (the
// --kernel-format spellings).
Result<KernelFormat> parse_kernel_format(std::string_view text);

// The --kernel-format spelling of a format.
std::string_view kernel_format_name(KernelFormat format);

// Decides from the bytes, first match wins:
//   1. "KVPC64IM" at offset 0                                     -> kKvpc64
//   2. Multiboot v1 magic with a valid checksum, 4-byte aligned,
//      in the first 8192 bytes                                    -> kMultiboot
//   3. 0xAA55 at 0x1FE and "HdrS" at 0x202 (Linux boot protocol)  -> kLinuxBzImage
//   4. ELF64 x86-64 with a PVH entry note (Linux vmlinux)         -> kLinuxPvh
//   5. other ELF                                                  -> error (see below)
//   6. anything else, non-empty                                   -> kFlat (kvmtool's rule)
// An empty image is an error. Never returns kAuto.
Result<KernelFormat> detect_kernel_format(std::span<const uint8_t> image);

}  // namespace kvpc
