// VgaRegisters: the register file of a standard VGA (IBM VGA / QEMU "std" VGA) and its
// port protocol: misc output, sequencer, CRTC, graphics controller, attribute controller
// (with its address/data flip-flop), the DAC (read/write indexes, 3-step RGB cycle, pel mask)
// and input status 1.
//
// Every register guests and VGA BIOSes program is stored and read back; the renderer and
// VgaPlanes interpret what they need. Ports are given as offsets from 0x3B0 (0x3B0-0x3DF);
// the CRTC and input status 1 answer at 0x3Dx or 0x3Bx as misc-output bit 0 selects, like
// real hardware (the other set reads 0xFF).
//
// Concurrency contract: none inside; VgaDevice holds its lock around every call.
#pragma once

#include <array>
#include <cstdint>

namespace kvpc::vga {

inline constexpr uint16_t kPortBase = 0x3B0;
inline constexpr uint16_t kPortCount = 0x30;  // 0x3B0-0x3DF

// Register indexes the renderer and the memory model use.
namespace seq {
inline constexpr int kClockingMode = 1;  // bit 0: 8-dot characters, bit 5: screen off
inline constexpr int kMapMask = 2;
inline constexpr int kCharMapSelect = 3;
inline constexpr int kMemoryMode = 4;  // bit 2: sequential (no odd/even), bit 3: chain-4
}  // namespace seq
namespace gfx {
inline constexpr int kSetReset = 0;
inline constexpr int kEnableSetReset = 1;
inline constexpr int kColorCompare = 2;
inline constexpr int kDataRotate = 3;
inline constexpr int kReadMapSelect = 4;
inline constexpr int kMode = 5;  // bits 0-1 write mode, bit 3 read mode, bit 4 odd/even, bit 6 256-colour
inline constexpr int kMisc = 6;  // bit 0 graphics, bit 1 chain odd maps, bits 2-3 memory map
inline constexpr int kColorDontCare = 7;
inline constexpr int kBitMask = 8;
}  // namespace gfx
namespace crtc {
inline constexpr int kHorizontalDisplayEnd = 0x01;
inline constexpr int kOverflow = 0x07;
inline constexpr int kMaxScanLine = 0x09;
inline constexpr int kCursorStart = 0x0A;
inline constexpr int kCursorEnd = 0x0B;
inline constexpr int kStartHigh = 0x0C;
inline constexpr int kStartLow = 0x0D;
inline constexpr int kCursorHigh = 0x0E;
inline constexpr int kCursorLow = 0x0F;
inline constexpr int kVerticalRetraceEnd = 0x11;
inline constexpr int kVerticalDisplayEnd = 0x12;
inline constexpr int kOffset = 0x13;
}  // namespace crtc
namespace attr {
inline constexpr int kModeControl = 0x10;  // bit 0 graphics, bit 2 line graphics, bit 3 blink, bit 7 P54
inline constexpr int kOverscan = 0x11;
inline constexpr int kColorPlaneEnable = 0x12;
inline constexpr int kHorizontalPan = 0x13;
inline constexpr int kColorSelect = 0x14;
inline constexpr uint8_t kPaletteAddressSource = 0x20;  // in the index: 0 = screen blanked
}  // namespace attr

struct VgaRegisters {
  uint8_t misc_output = 0;
  uint8_t feature_control = 0;
  uint8_t seq_index = 0;
  std::array<uint8_t, 8> seq{};
  uint8_t crtc_index = 0;
  std::array<uint8_t, 0x40> crtc{};
  uint8_t gfx_index = 0;
  std::array<uint8_t, 16> gfx{};
  uint8_t attr_index = 0;        // bits 0-4 index, bit 5 palette address source
  bool attr_expect_data = false;  // the 0x3C0 flip-flop
  std::array<uint8_t, 0x20> attr{};
  uint8_t pel_mask = 0xFF;
  uint8_t dac_read_index = 0;
  uint8_t dac_write_index = 0;
  uint8_t dac_component = 0;  // 0..2 within the current entry
  bool dac_last_was_read = false;
  std::array<uint8_t, 768> dac{};  // 6-bit (or 8-bit with VBE's DAC8) R,G,B per entry
  bool retrace_toggle = false;
  uint32_t palette_generation = 0;  // bumped on any register change the whole picture depends on
  uint32_t generation() const { return palette_generation; }

  // The state a VGA BIOS leaves after setting mode 3 (80x25 colour text): what direct-boot
  // guests, which never run a VGA BIOS, expect to find.
  void set_mode3_power_on();

  // Port offsets are from kPortBase. Reads have side effects (flip-flop, DAC cycle).
  uint8_t read_port(uint16_t offset);
  void write_port(uint16_t offset, uint8_t value);

  bool mono_io() const { return (misc_output & 1) == 0; }
  uint16_t start_address() const { return static_cast<uint16_t>(crtc[crtc::kStartHigh] << 8 | crtc[crtc::kStartLow]); }
  uint16_t cursor_address() const {
    return static_cast<uint16_t>(crtc[crtc::kCursorHigh] << 8 | crtc[crtc::kCursorLow]);
  }
  // Vertical display end + 1: the number of scan lines shown.
  int display_lines() const;
};

}  // namespace kvpc::vga
