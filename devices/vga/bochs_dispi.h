// BochsDispi: the Bochs/QEMU "DISPI" VBE extension registers behind ports 0x1CE (index) and
// 0x1CF (data), as SeaBIOS's vgabios-stdvga, Linux's bochs DRM driver and vesafb expect.
//
// Registers (16-bit): 0 ID (0xB0C0-0xB0C5; writing a supported ID selects it), 1 XRES,
// 2 YRES, 3 BPP (8, 15, 16, 24, 32; 4 is accepted and stored), 4 ENABLE (bit 0 enabled,
// bit 1 GETCAPS: XRES/YRES/BPP then read their maxima, bit 5 8-bit DAC, bit 6 LFB,
// bit 7 don't clear memory), 5 BANK (64 KiB bank of the 0xA0000 window), 6 VIRT_WIDTH,
// 7 VIRT_HEIGHT, 8 X_OFFSET, 9 Y_OFFSET, 0xA VIDEO_MEMORY_64K (read-only).
// Out-of-range values are clamped so that the visible frame always lies inside video memory
// (a hostile guest cannot make the renderer read past the framebuffer).
//
// Concurrency contract: none inside; VgaDevice holds its lock around every call.
#pragma once

#include <array>
#include <cstdint>

namespace kvpc::vga {

namespace dispi {
inline constexpr uint16_t kIndexPort = 0x1CE;
inline constexpr uint16_t kPortCount = 3;  // 0x1CE index, 0x1CF data (0x1D0 data alias)
inline constexpr int kId = 0, kXres = 1, kYres = 2, kBpp = 3, kEnable = 4, kBank = 5, kVirtWidth = 6,
                     kVirtHeight = 7, kXOffset = 8, kYOffset = 9, kVideoMemory64k = 10, kCount = 11;
inline constexpr uint16_t kEnabled = 0x01, kGetCaps = 0x02, kDac8 = 0x20, kLfbEnabled = 0x40, kNoClearMem = 0x80;
inline constexpr uint16_t kIdMin = 0xB0C0, kIdMax = 0xB0C5;
inline constexpr uint16_t kMaxXres = 2560, kMaxYres = 1600, kMaxBpp = 32;
}  // namespace dispi

class BochsDispi {
 public:
  explicit BochsDispi(uint32_t vram_bytes);

  uint16_t read(int index) const;
  // Returns true when the write enabled the display with memory clearing requested.
  bool write(int index, uint16_t value);

  bool enabled() const { return (regs_[dispi::kEnable] & dispi::kEnabled) != 0; }
  bool dac8() const { return (regs_[dispi::kEnable] & dispi::kDac8) != 0; }
  uint16_t xres() const { return regs_[dispi::kXres]; }
  uint16_t yres() const { return regs_[dispi::kYres]; }
  uint16_t bpp() const { return regs_[dispi::kBpp]; }
  uint32_t bank() const { return regs_[dispi::kBank]; }
  uint32_t bytes_per_pixel() const { return (bpp() + 7) / 8; }
  // Bytes per scan line of the virtual screen and the byte offset of the visible frame.
  uint32_t stride() const;
  uint64_t frame_offset() const;
  uint32_t vram_bytes() const { return vram_bytes_; }
  uint16_t id() const { return regs_[dispi::kId]; }

 private:
  void fix_geometry();
  uint32_t vram_bytes_;
  std::array<uint16_t, dispi::kCount> regs_{};
};

}  // namespace kvpc::vga
