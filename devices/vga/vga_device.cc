#include "devices/vga/vga_device.h"

#include <cstring>

namespace kvpc {
namespace {

constexpr uint16_t kVgaPortsInBar = 0x400;   // BAR2 0x400-0x41F: ports 0x3C0-0x3DF
constexpr uint16_t kDispiRegsInBar = 0x500;  // BAR2 0x500-0x515: DISPI registers, index * 2
constexpr uint16_t kPort3C0 = 0x3C0 - vga::kPortBase;

PciIdentity vga_identity() {
  PciIdentity id;
  id.vendor_id = VgaDevice::kVendorId;
  id.device_id = VgaDevice::kDeviceId;
  id.revision = 2;
  id.class_code = 0x030000;  // display controller, VGA-compatible
  id.subsystem_vendor_id = 0x1AF4;  // Red Hat, as QEMU's std VGA reports
  id.subsystem_id = 0x1100;
  return id;
}

}  // namespace

VgaDevice::VgaDevice(std::span<uint8_t> framebuffer, FontSource font)
    : framebuffer_(framebuffer), config_(vga_identity()), font_source_(std::move(font)),
      dispi_(static_cast<uint32_t>(framebuffer.size())) {
  config_.define_bar(0, PciBarKind::kMemory32Prefetchable, kFramebufferBytes);
  config_.define_bar(2, PciBarKind::kMemory32, kMmioBarBytes);
}

void VgaDevice::power_on_if_needed_locked() {
  if (planes_) return;
  // What a PC's VGA shows at power-on: mode 3 registers, the console font in plane 2 (as a
  // VGA BIOS loads it) and a blank text screen. Made at the first touch, guest or host: a
  // headless guest that never uses the VGA costs neither the 256 KiB of display memory nor
  // reading and inflating the font file (start-up time and RSS, docs/performance.md).
  planes_.emplace();
  regs_.set_mode3_power_on();
  if (font_source_) {
    if (auto font = font_source_()) load_font_locked(*font);
    font_source_ = nullptr;
  }
  clear_text_locked();
  planes_->clear_dirty();
}

void VgaDevice::load_font_locked(const vga::VgaFont& font) {
  // Plane 2, character map 0: glyph i at offset 32 * i, as a VGA BIOS loads it.
  for (int glyph = 0; glyph < 256; ++glyph) {
    for (int row = 0; row < 32; ++row) {
      const uint8_t bits = row < font.height ? font.glyphs[glyph][row] : 0;
      planes_->set_plane_byte(2, static_cast<uint32_t>(glyph * 32 + row), bits);
    }
  }
}

void VgaDevice::clear_text_locked() {
  // Spaces in light grey on black over the whole 32 KiB text window.
  for (uint32_t offset = 0; offset < 0x8000; offset += 2) {
    planes_->set_plane_byte(0, offset, ' ');
    planes_->set_plane_byte(1, offset, 0x07);
  }
}

uint8_t VgaDevice::plane_byte(int plane, uint32_t offset) {
  std::lock_guard lock(mutex_);
  power_on_if_needed_locked();
  return planes_->plane_byte(plane, offset);
}

void VgaDevice::snapshot(VgaSnapshot& out) {
  std::lock_guard lock(mutex_);
  power_on_if_needed_locked();
  out.regs = regs_;
  out.planes.assign(planes_->interleaved().begin(), planes_->interleaved().end());
  out.planes_dirty = planes_->dirty();
  out.font_dirty = planes_->font_dirty();
  planes_->clear_dirty();
  out.dispi_enabled = dispi_.enabled();
  out.dac8 = dispi_.dac8();
  out.xres = dispi_.xres();
  out.yres = dispi_.yres();
  out.bpp = dispi_.bpp();
  out.stride = dispi_.stride();
  out.frame_offset = dispi_.frame_offset();
  out.framebuffer_written_by_device = framebuffer_written_;
  framebuffer_written_ = false;
}

uint16_t VgaDevice::dispi_read_locked(uint64_t port_offset) {
  if (port_offset == 0) return dispi_index_;
  return dispi_.read(dispi_index_);
}

void VgaDevice::dispi_write_locked(uint64_t port_offset, uint16_t value) {
  if (port_offset == 0) {
    dispi_index_ = value;
    return;
  }
  const bool clear = dispi_.write(dispi_index_, value);
  if (clear) {
    std::memset(framebuffer_.data(), 0, framebuffer_.size());
    framebuffer_written_ = true;
  }
  if (dispi_index_ == vga::dispi::kEnable) ++regs_.palette_generation;
}

uint8_t VgaDevice::window_read_locked(uint64_t offset) {
  if (dispi_.enabled() && dispi_.bpp() > 4) {
    // Banked framebuffer access through the first 64 KiB of the window.
    if (offset >= 0x10000) return 0xFF;
    const uint64_t at = uint64_t{dispi_.bank()} * 0x10000 + offset;
    return at < framebuffer_.size() ? framebuffer_[at] : 0xFF;
  }
  return planes_->read(regs_, static_cast<uint32_t>(offset));
}

void VgaDevice::window_write_locked(uint64_t offset, uint8_t value) {
  if (dispi_.enabled() && dispi_.bpp() > 4) {
    if (offset >= 0x10000) return;
    const uint64_t at = uint64_t{dispi_.bank()} * 0x10000 + offset;
    if (at < framebuffer_.size()) {
      framebuffer_[at] = value;
      framebuffer_written_ = true;
    }
    return;
  }
  planes_->write(regs_, static_cast<uint32_t>(offset), value);
}

void VgaDevice::VgaPorts::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  for (size_t lane = 0; lane < data.size(); ++lane) {
    const uint64_t port = offset + lane;
    data[lane] = port < vga::kPortCount ? vga_.regs_.read_port(static_cast<uint16_t>(port)) : uint8_t{0xFF};
  }
}

void VgaDevice::VgaPorts::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  // A 16-bit OUT to an index port writes index then data (out dx, ax with AL = index).
  for (size_t lane = 0; lane < data.size(); ++lane) {
    const uint64_t port = offset + lane;
    if (port < vga::kPortCount) vga_.regs_.write_port(static_cast<uint16_t>(port), data[lane]);
  }
}

void VgaDevice::DispiPorts::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  // 0x1CE is the index, 0x1CF (and 0x1D0) the data register; both are 16 bits wide and
  // read whole whatever the access size.
  store_le(data, vga_.dispi_read_locked(offset == 0 ? 0 : 1));
}

void VgaDevice::DispiPorts::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  vga_.dispi_write_locked(offset == 0 ? 0 : 1, static_cast<uint16_t>(load_le(data)));
}

void VgaDevice::LegacyWindow::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < kLegacyWindowBytes ? vga_.window_read_locked(offset + i) : uint8_t{0xFF};
  }
}

void VgaDevice::LegacyWindow::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  for (size_t i = 0; i < data.size(); ++i) {
    if (offset + i < kLegacyWindowBytes) vga_.window_write_locked(offset + i, data[i]);
  }
}

void VgaDevice::MmioBar::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  if (offset >= kVgaPortsInBar && offset + data.size() <= kVgaPortsInBar + 0x20) {
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = vga_.regs_.read_port(static_cast<uint16_t>(kPort3C0 + offset - kVgaPortsInBar + i));
    }
    return;
  }
  if (offset >= kDispiRegsInBar && offset + data.size() <= kDispiRegsInBar + 2 * vga::dispi::kCount) {
    const int index = static_cast<int>((offset - kDispiRegsInBar) / 2);
    const uint16_t value = vga_.dispi_.read(index);
    const uint16_t shifted = (offset & 1) ? static_cast<uint16_t>(value >> 8) : value;
    store_le(data, shifted);
    return;
  }
  std::memset(data.data(), 0xFF, data.size());
}

void VgaDevice::MmioBar::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(vga_.mutex_);
  vga_.power_on_if_needed_locked();
  if (offset >= kVgaPortsInBar && offset + data.size() <= kVgaPortsInBar + 0x20) {
    for (size_t i = 0; i < data.size(); ++i) {
      vga_.regs_.write_port(static_cast<uint16_t>(kPort3C0 + offset - kVgaPortsInBar + i), data[i]);
    }
    return;
  }
  if (offset >= kDispiRegsInBar && offset + 2 <= kDispiRegsInBar + 2 * vga::dispi::kCount && data.size() == 2 &&
      (offset & 1) == 0) {
    const uint16_t saved_index = vga_.dispi_index_;
    vga_.dispi_index_ = static_cast<uint16_t>((offset - kDispiRegsInBar) / 2);
    vga_.dispi_write_locked(1, static_cast<uint16_t>(load_le(data)));
    vga_.dispi_index_ = saved_index;
  }
}

}  // namespace kvpc
