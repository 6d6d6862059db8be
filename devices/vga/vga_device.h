// VgaDevice: a QEMU "std VGA"-compatible PCI display adapter — PCI 1234:1111, class 0300 —
// so SeaBIOS's vgabios-stdvga.bin, Linux's bochs DRM driver and vesafb can drive it.
//
//   ports 0x3B0-0x3DF   the VGA registers (VgaRegisters)
//   ports 0x1CE-0x1D0   Bochs VBE DISPI index/data (BochsDispi)
//   MMIO 0xA0000-0xBFFFF the legacy window: planar VGA memory (VgaPlanes), or with DISPI
//                        enabled the 64 KiB bank of the framebuffer at 0xA0000
//   BAR0                 the linear framebuffer: 16 MiB, prefetchable, guest RAM with dirty
//                        logging (a GuestMemory device region mapped by the accelerator)
//   BAR2                 4 KiB MMIO: 0x400-0x41F mirror ports 0x3C0-0x3DF, 0x500-0x515 the
//                        DISPI registers (16-bit, index * 2) — QEMU's layout
//
// Why the legacy window is MMIO and the framebuffer RAM, under both accelerators: planar
// VGA memory has to interpret every access (map mask, latches, write modes), so it cannot
// be plain memory; each access is an exit, which text-mode and mode-13h traffic can afford,
// and the device marks what it stored, so no dirty log is needed. The linear framebuffer
// is written pixel by pixel at high rates (a Linux console scroll touches megabytes): it
// must be RAM, and redraw tracking comes from the accelerator's dirty log
// (KVM_GET_DIRTY_LOG under KVM, the interpreter's store path under emu).
//
// The option ROM (vgabios-stdvga.bin) is not part of this device: firmware gets it from
// fw_cfg ("vgaroms/") or a ROM BAR that the platform code owns; see docs/display.md.
//
// Power-on state is mode 3 (80x25 text) with a console font preloaded into plane 2 and a
// cleared screen, so guests booted directly (no VGA BIOS) can write to 0xB8000 at once.
//
// Concurrency contract: one mutex guards registers, planes and DISPI; every port/MMIO
// access takes it for the access, and snapshot() takes it to copy state for the renderer.
// The framebuffer is guest memory, written by vCPUs without any lock (like DMA).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "devices/pci_device.h"
#include "devices/vga/bochs_dispi.h"
#include "devices/vga/psf_font.h"
#include "devices/vga/vga_planes.h"
#include "devices/vga/vga_registers.h"

namespace kvpc {

// Everything the renderer needs, copied under the device lock.
struct VgaSnapshot {
  vga::VgaRegisters regs;
  std::vector<uint8_t> planes;                     // interleaved, 256 KiB
  std::bitset<vga::kDirtyChunks> planes_dirty;     // plane offsets stored since the last snapshot
  bool font_dirty = false;                         // plane 2 stored since the last snapshot
  bool dispi_enabled = false;
  bool dac8 = false;
  uint32_t xres = 0, yres = 0, bpp = 0, stride = 0;
  uint64_t frame_offset = 0;
  bool framebuffer_written_by_device = false;  // banked writes through 0xA0000 (no dirty log sees them)
};

class VgaDevice final : public PciDevice {
 public:
  static constexpr uint16_t kVendorId = 0x1234;
  static constexpr uint16_t kDeviceId = 0x1111;
  static constexpr uint32_t kFramebufferBytes = 16u << 20;
  static constexpr uint32_t kMmioBarBytes = 4096;
  static constexpr uint64_t kLegacyWindow = 0xA0000;
  static constexpr uint64_t kLegacyWindowBytes = 0x20000;

  // Gives the font for plane 2 at power-on, or nullopt (plane 2 starts blank and only a VGA
  // BIOS fills it). Called at most once, under the device lock, at the first touch.
  using FontSource = std::function<std::optional<vga::VgaFont>()>;

  // `framebuffer` is the host view of the BAR0 region (kFramebufferBytes). The power-on state
  // (display memory, mode 3, the font, a blank text screen) is made at the first access by the
  // guest or the host, not here (power_on_if_needed_locked).
  VgaDevice(std::span<uint8_t> framebuffer, FontSource font);

  std::string_view pci_name() const override { return "vga"; }
  PciConfigSpace& config() override { return config_; }
  IoDevice* bar_device(int index) override { return index == 2 ? &mmio_bar_ : nullptr; }

  IoDevice& vga_ports() { return vga_ports_; }
  IoDevice& dispi_ports() { return dispi_ports_; }
  IoDevice& legacy_window() { return legacy_window_; }
  std::span<uint8_t> framebuffer() const { return framebuffer_; }

  // Copies the state and clears the plane dirty bits. `out` is reused between calls (no
  // allocation after the first).
  void snapshot(VgaSnapshot& out);

  // Host-side helpers for tests and direct inspection.
  uint8_t plane_byte(int plane, uint32_t offset);

 private:
  class VgaPorts final : public IoDevice {
   public:
    explicit VgaPorts(VgaDevice& vga) : vga_(vga) {}
    std::string_view name() const override { return "vga-ports"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
   private:
    VgaDevice& vga_;
  };
  class DispiPorts final : public IoDevice {
   public:
    explicit DispiPorts(VgaDevice& vga) : vga_(vga) {}
    std::string_view name() const override { return "vga-dispi"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
   private:
    VgaDevice& vga_;
  };
  class LegacyWindow final : public IoDevice {
   public:
    explicit LegacyWindow(VgaDevice& vga) : vga_(vga) {}
    std::string_view name() const override { return "vga-window"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
   private:
    VgaDevice& vga_;
  };
  class MmioBar final : public IoDevice {
   public:
    explicit MmioBar(VgaDevice& vga) : vga_(vga) {}
    std::string_view name() const override { return "vga-mmio"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
   private:
    VgaDevice& vga_;
  };

  uint16_t dispi_read_locked(uint64_t port_offset);
  void dispi_write_locked(uint64_t port_offset, uint16_t value);
  uint8_t window_read_locked(uint64_t offset);
  void window_write_locked(uint64_t offset, uint8_t value);
  void power_on_if_needed_locked();
  void load_font_locked(const vga::VgaFont& font);
  void clear_text_locked();

  std::span<uint8_t> framebuffer_;
  PciConfigSpace config_;
  FontSource font_source_;  // asked once, at power-on
  VgaPorts vga_ports_{*this};
  DispiPorts dispi_ports_{*this};
  LegacyWindow legacy_window_{*this};
  MmioBar mmio_bar_{*this};

  mutable std::mutex mutex_;
  vga::VgaRegisters regs_;
  std::optional<vga::VgaPlanes> planes_;  // empty until power-on
  vga::BochsDispi dispi_;
  uint16_t dispi_index_ = 0;
  bool framebuffer_written_ = false;
};

}  // namespace kvpc
