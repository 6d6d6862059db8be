#include "tools/disk_flags.h"

#include <unistd.h>

#include <fmt/format.h>

namespace kvpc {

Result<DiskConfig> parse_disk_spec(const std::string& spec) {
  DiskConfig disk;
  // PATH ends at the first comma that starts an option ("readonly" or "name=value"); other
  // commas are part of the file name, which may legally contain them.
  auto starts_option = [](std::string_view rest) {
    std::string_view word = rest.substr(0, rest.find(','));
    if (word == "readonly") return true;
    size_t equals = word.find('=');
    return equals != std::string_view::npos && equals > 0 &&
           word.substr(0, equals).find_first_not_of("abcdefghijklmnopqrstuvwxyz_-") == std::string_view::npos;
  };
  size_t end = spec.size();
  for (size_t at = spec.find(','); at != std::string::npos; at = spec.find(',', at + 1)) {
    if (starts_option(std::string_view(spec).substr(at + 1))) {
      end = at;
      break;
    }
  }
  disk.path = spec.substr(0, end);
  if (disk.path.empty()) return make_error(fmt::format("--disk {}: no file name", spec));
  size_t at = end;
  while (at < spec.size()) {
    size_t next = spec.find(',', at + 1);
    std::string option = spec.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (option == "readonly") {
      disk.read_only = true;
    } else if (option.starts_with("format=")) {
      auto format = parse_image_format(option.substr(7));
      if (!format || *format == ImageFormat::kAuto) {
        return make_error(fmt::format("--disk {}: format {} is not raw or vhd", spec, option.substr(7)));
      }
      disk.format = *format;
    } else {
      return make_error(fmt::format("--disk {}: unknown option '{}' (use format=raw|vhd, readonly)", spec, option));
    }
    at = next == std::string::npos ? spec.size() : next;
  }
  return disk;
}

Status apply_disk_flags(const std::vector<std::string>& disks, const std::string& boot, MachineConfig& config) {
  for (const auto& spec : disks) {
    auto disk = parse_disk_spec(spec);
    if (!disk) return disk.error();
    config.disks.push_back(*disk);
  }
  if (boot.empty()) {
    config.boot = (config.kernel_path || config.disks.empty()) ? BootDevice::kKernel : BootDevice::kDisk;
  } else if (boot == "kernel") {
    config.boot = BootDevice::kKernel;
    if (config.bios_path) return make_error("--boot kernel and --bios exclude each other (firmware boots from disk)");
    return ok_status();
  } else if (boot == "disk") {
    config.boot = BootDevice::kDisk;
  } else {
    return make_error(fmt::format("--boot {}: use disk or kernel", boot));
  }
  if (config.boot != BootDevice::kDisk) return ok_status();
  if (config.kernel_path) return make_error("--boot disk and --kernel exclude each other");
  if (config.disks.empty()) return make_error("--boot disk needs a --disk to boot from");
  if (!config.bios_path) {
    if (::access(kDefaultDiskFirmware, R_OK) != 0) {
      return make_error(fmt::format("--boot disk needs firmware: pass --bios FILE ({} is not installed; Debian's "
                                    "seabios package provides it)",
                                    kDefaultDiskFirmware));
    }
    config.bios_path = kDefaultDiskFirmware;
  }
  return ok_status();
}

}  // namespace kvpc
