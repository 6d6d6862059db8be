// `kvpc disk create FILE --size SIZE [--format vhd|raw] [--fixed]` and `kvpc disk info FILE`:
// make and inspect the images `kvpc run --disk` takes (docs/storage.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "storage/vhd_image.h"
#include "tools/commands.h"
#include "tools/exit_status.h"
#include "vmm/guest_memory.h"

namespace kvpc {

namespace {

struct DiskFlags {
  std::string file;
  std::string size;
  std::string format = "vhd";
  std::string info_format = "auto";
  bool fixed = false;
  uint32_t block_size_kib = vhd::kDefaultBlockSize / 1024;
};

int create(const DiskFlags& flags) {
  auto size = parse_size(flags.size);
  if (!size) {
    spdlog::error("--size {}: {}", flags.size, size.error().message);
    return kExitError;
  }
  auto format = parse_image_format(flags.format);
  if (!format || *format == ImageFormat::kAuto) {
    spdlog::error("--format {}: use vhd or raw", flags.format);
    return kExitError;
  }
  if (flags.fixed && *format != ImageFormat::kVhd) {
    spdlog::error("--fixed applies to vhd images (a raw image is always fixed)");
    return kExitError;
  }
  DiskCreateOptions options;
  options.size_bytes = *size;
  options.format = *format;
  options.fixed = flags.fixed;
  options.block_size = flags.block_size_kib * 1024;
  auto created = create_image_file(flags.file, options);
  if (!created) {
    spdlog::error("{}", created.error().message);
    return kExitError;
  }
  fmt::print("{}: {} {} bytes ({} MiB)\n", flags.file,
             *format == ImageFormat::kRaw ? "raw" : (flags.fixed ? "vhd-fixed" : "vhd-dynamic"), *created,
             *created >> 20);
  return kExitOk;
}

int info(const DiskFlags& flags) {
  auto format = parse_image_format(flags.info_format);
  if (!format) {
    spdlog::error("--format {}: use auto, vhd or raw", flags.info_format);
    return kExitError;
  }
  auto image = open_block_image(flags.file, *format, true);
  if (!image) {
    spdlog::error("{}", image.error().message);
    return kExitError;
  }
  fmt::print("file: {}\nformat: {}\nsize: {} bytes ({} sectors)\n", flags.file, (*image)->format_name(),
             (*image)->size_bytes(), (*image)->size_bytes() / BlockImage::kSectorSize);
  if (auto* vhd_image = dynamic_cast<VhdImage*>(image->get())) {
    const auto& footer = vhd_image->footer();
    fmt::print("geometry: {}/{}/{} (cylinders/heads/sectors)\ncreator: {:.4}\n", footer.geometry.cylinders,
               footer.geometry.heads, footer.geometry.sectors_per_track,
               std::string_view(footer.creator_app.data(), 4));
    if (vhd_image->dynamic()) {
      fmt::print("block size: {} bytes\nallocated blocks: {}\n", vhd_image->block_size(), vhd_image->allocated_blocks());
    }
  }
  return kExitOk;
}

}  // namespace

void add_disk_command(CLI::App& app, CommandAction& action) {
  auto flags = std::make_shared<DiskFlags>();
  CLI::App* disk = app.add_subcommand("disk", "Create and inspect disk images for `kvpc run --disk`");
  disk->require_subcommand(1);
  CLI::App* create_cmd = disk->add_subcommand(
      "create", "Create an empty disk image (fails if FILE exists). VHD sizes are rounded up to a whole CHS geometry, "
                "as Virtual PC and qemu-img do");
  create_cmd->add_option("FILE", flags->file, "The new image file")->required();
  create_cmd->add_option("--size", flags->size, "Disk size: 64M, 2G, ... (bytes without a suffix)")->required();
  create_cmd->add_option("--format", flags->format, "vhd (default: dynamic, Virtual PC's format) or raw");
  create_cmd->add_flag("--fixed", flags->fixed, "VHD only: a fixed-size VHD (all data allocated up front)");
  create_cmd->add_option("--block-size-kib", flags->block_size_kib,
                         "Dynamic VHD only: block size in KiB, a power of two (default 2048)");
  create_cmd->callback([flags, &action] { action = [flags] { return create(*flags); }; });
  CLI::App* info_cmd = disk->add_subcommand("info", "Check an image and print its format, size and layout");
  info_cmd->add_option("FILE", flags->file, "The image file")->required()->check(CLI::ExistingFile);
  info_cmd->add_option("--format", flags->info_format, "auto (default), vhd or raw");
  info_cmd->callback([flags, &action] { action = [flags] { return info(*flags); }; });
}

}  // namespace kvpc
