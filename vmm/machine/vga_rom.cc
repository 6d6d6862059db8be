#include "vmm/machine/vga_rom.h"

#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kvpc {

namespace {
// Option ROMs are at most 128 KiB (the C0000-DFFFF window); anything larger is not one.
constexpr size_t kMaxRomBytes = 128 * 1024;

Result<std::vector<uint8_t>> read_rom(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(fmt::format("{}: cannot open", path));
  std::vector<uint8_t> rom((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (rom.size() > kMaxRomBytes) return make_error(fmt::format("{}: {} bytes, larger than 128 KiB", path, rom.size()));
  // Header: 55 AA, then the image length in 512-byte units, which must fit in the file.
  if (rom.size() < 3 || rom[0] != 0x55 || rom[1] != 0xAA) {
    return make_error(fmt::format("{}: not an option ROM (no 55 AA signature)", path));
  }
  if (rom[2] == 0 || static_cast<size_t>(rom[2]) * 512 > rom.size()) {
    return make_error(fmt::format("{}: the header's length ({} x 512 bytes) does not fit the file", path, rom[2]));
  }
  return rom;
}
}  // namespace

Result<std::optional<std::vector<uint8_t>>> load_vga_rom(const MachineConfig& config) {
  using Rom = std::optional<std::vector<uint8_t>>;
  if (!config.bios_path || config.vga_rom == "none") return Rom();
  const bool explicit_path = !config.vga_rom.empty();
  auto rom = read_rom(explicit_path ? config.vga_rom : kDefaultVgaRomPath);
  if (rom) return Rom(std::move(rom).value());
  if (explicit_path) return make_error(fmt::format("--vga-rom: {}", rom.error().message));
  spdlog::warn("no VGA BIOS for the firmware, its screen output goes to COM1 only: {} (install seabios)",
               rom.error().message);
  return Rom();
}

}  // namespace kvpc
