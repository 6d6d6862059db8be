// DiskConfig: one `--disk PATH[,format=raw|vhd][,readonly]`, and the boot choice (--boot).
// Parsing lives in tools/disk_flags.cc; the board turns each DiskConfig into a virtio-blk
// PCI function (vmm/machine/board_disks.h).
#pragma once

#include <string>

#include "storage/block_image.h"

namespace kvpc {

struct DiskConfig {
  std::string path;
  ImageFormat format = ImageFormat::kAuto;
  bool read_only = false;
};

// kKernel: --kernel (or the built-in guest) is loaded directly; disks are just attached.
// kDisk: firmware (--bios, SeaBIOS by default) starts and boots from the first disk.
enum class BootDevice { kKernel, kDisk };

}  // namespace kvpc
