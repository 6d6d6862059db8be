// The VGA option ROM kvpc hands to firmware (`--bios`): SeaBIOS's vgabios-stdvga.bin, the
// VGA BIOS for the Bochs/QEMU standard VGA (PCI 1234:1111) that kvpc's VGA device models.
//
// Delivery is an fw_cfg file named "pci1234,1111.rom": SeaBIOS looks such a file up for each
// PCI device before trying the device's expansion-ROM BAR (docs/firmware.md), and runs it as
// the VGA ROM with the device's bus/device/function in AX, so vgabios finds the framebuffer
// BAR of the right function. kvpc's VGA has no expansion-ROM BAR (config 0x30 reads 0).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "vmm/machine/machine_config.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr const char* kDefaultVgaRomPath = "/usr/share/seabios/vgabios-stdvga.bin";
inline constexpr const char* kVgaRomFwCfgName = "pci1234,1111.rom";

// The ROM image for this machine, or nothing: only firmware boots (--bios) run option ROMs;
// `--vga-rom none` turns it off; the default file may be missing (a warning, no ROM); an
// explicit path must load and look like an option ROM (0x55 0xAA, size byte within the file).
Result<std::optional<std::vector<uint8_t>>> load_vga_rom(const MachineConfig& config);

}  // namespace kvpc
