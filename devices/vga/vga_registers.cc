#include "devices/vga/vga_registers.h"

#include <algorithm>

namespace kvpc::vga {
namespace {

// Mode 3 as documented for the IBM VGA (and programmed by every VGA BIOS).
constexpr uint8_t kMode3Seq[] = {0x03, 0x00, 0x03, 0x00, 0x02};
constexpr uint8_t kMode3Crtc[] = {0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
                                  0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF};
constexpr uint8_t kMode3Gfx[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF};
constexpr uint8_t kMode3Attr[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A,
                                  0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08, 0x00};

// Ports relative to 0x3B0.
constexpr uint16_t kCrtcIndexMono = 0x04, kCrtcDataMono = 0x05, kStatus1Mono = 0x0A;
constexpr uint16_t kAttrWrite = 0x10, kAttrRead = 0x11, kMiscWrite = 0x12, kStatus0 = 0x12;
constexpr uint16_t kSeqIndex = 0x14, kSeqData = 0x15, kPelMask = 0x16, kDacReadIndex = 0x17;
constexpr uint16_t kDacState = 0x17, kDacWriteIndex = 0x18, kDacData = 0x19, kFeatureRead = 0x1A;
constexpr uint16_t kMiscRead = 0x1C, kGfxIndex = 0x1E, kGfxData = 0x1F;
constexpr uint16_t kCrtcIndexColour = 0x24, kCrtcDataColour = 0x25, kStatus1Colour = 0x2A;

}  // namespace

void VgaRegisters::set_mode3_power_on() {
  *this = VgaRegisters{};
  misc_output = 0x67;
  std::copy(std::begin(kMode3Seq), std::end(kMode3Seq), seq.begin());
  std::copy(std::begin(kMode3Crtc), std::end(kMode3Crtc), crtc.begin());
  std::copy(std::begin(kMode3Gfx), std::end(kMode3Gfx), gfx.begin());
  std::copy(std::begin(kMode3Attr), std::end(kMode3Attr), attr.begin());
  attr_index = attr::kPaletteAddressSource;
  // The EGA-compatible 64 colours: index bits 0-2 are blue/green/red at 2/3 intensity,
  // bits 3-5 the same at 1/3 (6-bit DAC values 0x2A and 0x15).
  for (int i = 0; i < 64; ++i) {
    dac[i * 3 + 0] = static_cast<uint8_t>(((i >> 2) & 1) * 0x2A + ((i >> 5) & 1) * 0x15);
    dac[i * 3 + 1] = static_cast<uint8_t>(((i >> 1) & 1) * 0x2A + ((i >> 4) & 1) * 0x15);
    dac[i * 3 + 2] = static_cast<uint8_t>((i & 1) * 0x2A + ((i >> 3) & 1) * 0x15);
  }
}

int VgaRegisters::display_lines() const {
  const int overflow = crtc[crtc::kOverflow];
  return (crtc[crtc::kVerticalDisplayEnd] | ((overflow & 0x02) << 7) | ((overflow & 0x40) << 3)) + 1;
}

uint8_t VgaRegisters::read_port(uint16_t offset) {
  const bool mono = mono_io();
  // The CRTC and status 1 pair the misc register does not select are not decoded.
  if ((offset == kCrtcIndexMono || offset == kCrtcDataMono || offset == kStatus1Mono) && !mono) return 0xFF;
  if ((offset == kCrtcIndexColour || offset == kCrtcDataColour || offset == kStatus1Colour) && mono) return 0xFF;
  switch (offset) {
    case kAttrWrite: return attr_index;
    case kAttrRead: return (attr_index & 0x1F) < attr.size() ? attr[attr_index & 0x1F] : 0;
    case kStatus0: return 0;
    case kSeqIndex: return seq_index;
    case kSeqData: return seq[seq_index & 7];
    case kPelMask: return pel_mask;
    case kDacState: return dac_last_was_read ? 0x03 : 0x00;
    case kDacWriteIndex: return dac_write_index;
    case kDacData: {
      const uint8_t value = dac[dac_read_index * 3 + dac_component];
      dac_last_was_read = true;
      if (++dac_component == 3) {
        dac_component = 0;
        ++dac_read_index;
      }
      return value;
    }
    case kFeatureRead: return feature_control;
    case kMiscRead: return misc_output;
    case kGfxIndex: return gfx_index;
    case kGfxData: return gfx[gfx_index & 0x0F];
    case kCrtcIndexMono:
    case kCrtcIndexColour: return crtc_index;
    case kCrtcDataMono:
    case kCrtcDataColour: return crtc[crtc_index & 0x3F];
    case kStatus1Mono:
    case kStatus1Colour:
      // Reading status 1 resets the attribute flip-flop. Guests poll bit 3 (vertical
      // retrace) and bit 0 (display disabled) waiting for edges; toggle so loops finish.
      attr_expect_data = false;
      retrace_toggle = !retrace_toggle;
      return retrace_toggle ? 0x09 : 0x00;
    default: return 0xFF;
  }
}

void VgaRegisters::write_port(uint16_t offset, uint8_t value) {
  const bool mono = mono_io();
  if ((offset == kCrtcIndexMono || offset == kCrtcDataMono || offset == kStatus1Mono) && !mono) return;
  if ((offset == kCrtcIndexColour || offset == kCrtcDataColour || offset == kStatus1Colour) && mono) return;
  switch (offset) {
    case kAttrWrite:
      if (!attr_expect_data) {
        if ((value ^ attr_index) & attr::kPaletteAddressSource) ++palette_generation;
        attr_index = value & 0x3F;
      } else if ((attr_index & 0x1F) < 0x15) {
        attr[attr_index & 0x1F] = value;
        ++palette_generation;
      }
      attr_expect_data = !attr_expect_data;
      return;
    case kMiscWrite: misc_output = value; return;
    case kSeqIndex: seq_index = value & 7; return;
    case kSeqData:
      seq[seq_index & 7] = value;
      ++palette_generation;  // clocking mode and character map select change every glyph
      return;
    case kPelMask:
      pel_mask = value;
      ++palette_generation;
      return;
    case kDacReadIndex:
      dac_read_index = value;
      dac_component = 0;
      return;
    case kDacWriteIndex:
      dac_write_index = value;
      dac_component = 0;
      dac_last_was_read = false;
      return;
    case kDacData:
      dac[dac_write_index * 3 + dac_component] = value;
      dac_last_was_read = false;
      ++palette_generation;
      if (++dac_component == 3) {
        dac_component = 0;
        ++dac_write_index;
      }
      return;
    case kGfxIndex: gfx_index = value & 0x0F; return;
    case kGfxData:
      gfx[gfx_index & 0x0F] = value;
      ++palette_generation;
      return;
    case kCrtcIndexMono:
    case kCrtcIndexColour: crtc_index = value & 0x3F; return;
    case kCrtcDataMono:
    case kCrtcDataColour: {
      const int index = crtc_index & 0x3F;
      // CR11 bit 7 write-protects CR00-CR07 (except CR07 bit 4, the line compare bit).
      if ((crtc[crtc::kVerticalRetraceEnd] & 0x80) && index <= 7) {
        if (index == crtc::kOverflow) crtc[index] = static_cast<uint8_t>((crtc[index] & ~0x10) | (value & 0x10));
        return;
      }
      crtc[index] = value;
      // Start address and cursor moves change cells, not the picture's geometry: the
      // renderer's cell comparison catches them without a full redraw.
      if (index < crtc::kStartHigh || index > crtc::kCursorLow) ++palette_generation;
      return;
    }
    case kStatus1Mono:
    case kStatus1Colour: feature_control = value; return;
    default: return;
  }
}

}  // namespace kvpc::vga
