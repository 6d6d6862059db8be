// `kvpc run --disk PATH[,format=raw|vhd][,readonly]` and `--boot disk|kernel`: parsing and
// the rules that tie them to --kernel and --bios (kept here so cmd_run.cc only forwards).
#pragma once

#include <string>
#include <vector>

#include "vmm/machine/machine_config.h"
#include "vmm/result.h"

namespace kvpc {

// Firmware `--boot disk` uses when no --bios is given: Debian's seabios package.
inline constexpr const char* kDefaultDiskFirmware = "/usr/share/seabios/bios.bin";

// One --disk value.
Result<DiskConfig> parse_disk_spec(const std::string& spec);

// Fills config.disks and config.boot. `boot` is "" (default), "disk" or "kernel".
// Default: kernel when --kernel is given or no --disk is; else disk.
// --boot disk needs a disk and firmware (--bios, else kDefaultDiskFirmware when installed)
// and excludes --kernel; --boot kernel excludes --bios.
Status apply_disk_flags(const std::vector<std::string>& disks, const std::string& boot, MachineConfig& config);

// Help text shared by --help and the README.
inline constexpr const char* kDiskFlagHelp =
    "Attach a disk image as a virtio-blk PCI disk; repeatable (up to 8, in order). PATH[,format=raw|vhd][,readonly]: "
    "format defaults to vhd when the file ends in a VHD footer (or is named *.vhd), else raw; readonly opens the file "
    "read-only and tells the guest. Writes are write-back: the guest's FLUSH makes them durable (fdatasync)";
inline constexpr const char* kBootFlagHelp =
    "What starts: kernel (--kernel, or the built-in guest) or disk (firmware boots the first --disk: --bios, or "
    "/usr/share/seabios/bios.bin when --bios is not given). Default: kernel when --kernel is given or there is no "
    "--disk, else disk";

}  // namespace kvpc
