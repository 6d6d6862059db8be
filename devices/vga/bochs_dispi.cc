#include "devices/vga/bochs_dispi.h"

#include <algorithm>

namespace kvpc::vga {

BochsDispi::BochsDispi(uint32_t vram_bytes) : vram_bytes_(vram_bytes) {
  regs_[dispi::kId] = dispi::kIdMax;
  regs_[dispi::kXres] = 640;
  regs_[dispi::kYres] = 480;
  regs_[dispi::kBpp] = 32;
  regs_[dispi::kVirtWidth] = 640;
  regs_[dispi::kVirtHeight] = 480;
  regs_[dispi::kVideoMemory64k] = static_cast<uint16_t>(vram_bytes / 65536);
}

uint16_t BochsDispi::read(int index) const {
  if (index < 0 || index >= dispi::kCount) return 0xFFFF;
  if (regs_[dispi::kEnable] & dispi::kGetCaps) {
    if (index == dispi::kXres) return dispi::kMaxXres;
    if (index == dispi::kYres) return dispi::kMaxYres;
    if (index == dispi::kBpp) return dispi::kMaxBpp;
  }
  return regs_[index];
}

uint32_t BochsDispi::stride() const {
  const uint32_t bpp_bits = bpp() == 15 ? 16 : bpp();
  return static_cast<uint32_t>(regs_[dispi::kVirtWidth]) * bpp_bits / 8;
}

uint64_t BochsDispi::frame_offset() const {
  return uint64_t{regs_[dispi::kYOffset]} * stride() + uint64_t{regs_[dispi::kXOffset]} * bytes_per_pixel();
}

void BochsDispi::fix_geometry() {
  // Keep XRES/YRES/BPP sane and the visible frame inside video memory, whatever the guest
  // wrote: the renderer trusts these numbers.
  uint16_t& bpp_reg = regs_[dispi::kBpp];
  if (bpp_reg != 4 && bpp_reg != 8 && bpp_reg != 15 && bpp_reg != 16 && bpp_reg != 24 && bpp_reg != 32) bpp_reg = 8;
  regs_[dispi::kXres] = std::clamp<uint16_t>(regs_[dispi::kXres], 1, dispi::kMaxXres);
  regs_[dispi::kYres] = std::clamp<uint16_t>(regs_[dispi::kYres], 1, dispi::kMaxYres);
  if (regs_[dispi::kVirtWidth] < regs_[dispi::kXres]) regs_[dispi::kVirtWidth] = regs_[dispi::kXres];
  const uint32_t line = std::max<uint32_t>(stride(), 1);
  const uint32_t max_lines = vram_bytes_ / line;
  if (max_lines < regs_[dispi::kYres]) {  // virtual width too wide for memory: fall back to XRES
    regs_[dispi::kVirtWidth] = regs_[dispi::kXres];
  }
  const uint32_t lines = vram_bytes_ / std::max<uint32_t>(stride(), 1);
  regs_[dispi::kVirtHeight] = static_cast<uint16_t>(std::min<uint32_t>(lines, 0xFFFF));
  if (regs_[dispi::kYres] > regs_[dispi::kVirtHeight]) regs_[dispi::kYres] = regs_[dispi::kVirtHeight];
  if (uint32_t{regs_[dispi::kXOffset]} + regs_[dispi::kXres] > regs_[dispi::kVirtWidth]) regs_[dispi::kXOffset] = 0;
  if (uint32_t{regs_[dispi::kYOffset]} + regs_[dispi::kYres] > regs_[dispi::kVirtHeight]) regs_[dispi::kYOffset] = 0;
}

bool BochsDispi::write(int index, uint16_t value) {
  switch (index) {
    case dispi::kId:
      if (value >= dispi::kIdMin && value <= dispi::kIdMax) regs_[dispi::kId] = value;
      return false;
    case dispi::kXres:
    case dispi::kYres:
    case dispi::kBpp:
      // Geometry can only change while the display is off (as in Bochs).
      if (!enabled()) regs_[index] = value;
      return false;
    case dispi::kEnable: {
      const bool was_enabled = enabled();
      regs_[dispi::kEnable] = value;
      if ((value & dispi::kEnabled) && !was_enabled) {
        regs_[dispi::kVirtWidth] = regs_[dispi::kXres];
        regs_[dispi::kXOffset] = 0;
        regs_[dispi::kYOffset] = 0;
        regs_[dispi::kBank] = 0;
        fix_geometry();
        return (value & dispi::kNoClearMem) == 0;
      }
      return false;
    }
    case dispi::kBank:
      if (uint32_t{value} * 65536 < vram_bytes_) regs_[dispi::kBank] = value;
      return false;
    case dispi::kVirtWidth:
    case dispi::kXOffset:
    case dispi::kYOffset:
      regs_[index] = value;
      fix_geometry();
      return false;
    default: return false;  // VIRT_HEIGHT and VIDEO_MEMORY_64K are derived / read-only
  }
}

}  // namespace kvpc::vga
