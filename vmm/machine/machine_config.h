// MachineConfig: everything `kvpc run` was told, after parsing and before anything is built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmm/boot/kernel_format.h"
#include "vmm/machine/disk_config.h"

namespace kvpc {

enum class Accelerator { kKvm, kEmu, kAuto };

struct MachineConfig {
  std::string name = "kvpc";
  uint64_t ram_bytes = 256ULL << 20;
  uint32_t cpus = 1;
  Accelerator accelerator = Accelerator::kKvm;
  std::string kvm_device = "/dev/kvm";

  // Boot source: a kernel (--kernel), firmware (--bios), or neither (the built-in guest).
  std::optional<std::string> kernel_path;
  KernelFormat kernel_format = KernelFormat::kAuto;
  std::optional<std::string> initrd_path;
  std::string cmdline;
  std::optional<std::string> bios_path;

  // Console backends: "stdio", "file:PATH", "none".
  std::string serial = "stdio";
  std::string debugcon = "none";

  bool reset_on_triple_fault = false;

  // Disks (--disk), each a virtio-blk PCI function in order; boot source (--boot).
  std::vector<DiskConfig> disks;
  BootDevice boot = BootDevice::kKernel;
  // --- display (issue 5: VGA, SDL window, screenshots)
  // "sdl" opens a window, "none" runs headless (screenshots still work); "auto" picks sdl
  // when $DISPLAY or $WAYLAND_DISPLAY is set, else none.
  std::string display = "auto";
  // The console font preloaded into VGA plane 2 for guests that run no VGA BIOS; empty:
  // the default (devices/vga/psf_font.h), and a missing default only costs a warning.
  std::string vga_font;
  // --- VGA option ROM for --bios (vmm/machine/vga_rom.h): empty = the Debian SeaBIOS
  // vgabios-stdvga.bin when present, "none" = no VGA ROM, else a file path.
  std::string vga_rom;
};

}  // namespace kvpc
