#include "devices/vga/vga_planes.h"

namespace kvpc::vga {
namespace {

uint8_t rotate_right(uint8_t value, int count) {
  count &= 7;
  return static_cast<uint8_t>((value >> count) | (value << ((8 - count) & 7)));
}

}  // namespace

bool VgaPlanes::map(const VgaRegisters& regs, uint32_t window_offset, uint32_t& offset) const {
  switch ((regs.gfx[gfx::kMisc] >> 2) & 3) {
    case 0: offset = window_offset; return window_offset < 0x20000;
    case 1: offset = window_offset; return window_offset < 0x10000;
    case 2: offset = window_offset - 0x10000; return window_offset >= 0x10000 && window_offset < 0x18000;
    default: offset = window_offset - 0x18000; return window_offset >= 0x18000 && window_offset < 0x20000;
  }
}

uint8_t VgaPlanes::read(const VgaRegisters& regs, uint32_t window_offset) {
  uint32_t address = 0;
  if (!map(regs, window_offset, address)) return 0xFF;
  if (regs.seq[seq::kMemoryMode] & 0x08) {  // chain-4
    address &= 4 * kPlaneSize - 1;
    return memory_[address];
  }
  int plane;
  uint32_t offset;
  if ((regs.gfx[gfx::kMode] & 0x10) != 0) {  // odd/even
    plane = static_cast<int>((regs.gfx[gfx::kReadMapSelect] & 2) | (address & 1));
    offset = (address & ~1u) % kPlaneSize;
  } else {
    plane = regs.gfx[gfx::kReadMapSelect] & 3;
    offset = address % kPlaneSize;
  }
  for (int p = 0; p < 4; ++p) latch_[p] = memory_[4 * offset + p];
  if ((regs.gfx[gfx::kMode] & 0x08) == 0) return latch_[plane];
  // Read mode 1: colour compare. A pixel matches when every plane the don't-care register
  // selects equals the colour-compare bit.
  uint8_t result = 0xFF;
  for (int p = 0; p < 4; ++p) {
    if ((regs.gfx[gfx::kColorDontCare] >> p & 1) == 0) continue;
    const uint8_t want = (regs.gfx[gfx::kColorCompare] >> p & 1) ? 0xFF : 0x00;
    result &= static_cast<uint8_t>(~(latch_[p] ^ want));
  }
  return result;
}

void VgaPlanes::write(const VgaRegisters& regs, uint32_t window_offset, uint8_t value) {
  uint32_t address = 0;
  if (!map(regs, window_offset, address)) return;
  const uint8_t map_mask = regs.seq[seq::kMapMask] & 0x0F;
  if (regs.seq[seq::kMemoryMode] & 0x08) {  // chain-4: plane = address bits 0-1
    address &= 4 * kPlaneSize - 1;
    if (map_mask & (1u << (address & 3))) {
      memory_[address] = value;
      dirty_.set((address / 4) / kDirtyChunk);
      if ((address & 3) == 2) font_dirty_ = true;
    }
    return;
  }
  if ((regs.gfx[gfx::kMode] & 0x10) != 0 || (regs.seq[seq::kMemoryMode] & 0x04) == 0) {
    // Odd/even: even addresses reach plane 0 (characters), odd ones plane 1 (attributes);
    // the map mask still gates each (a font loader switches odd/even off to reach plane 2).
    const int plane = static_cast<int>(address & 1);
    if (map_mask & (1u << plane)) {
      const uint32_t offset = (address & ~1u) % kPlaneSize;
      memory_[4 * offset + plane] = value;
      dirty_.set(offset / kDirtyChunk);
    }
    return;
  }
  const uint32_t offset = address % kPlaneSize;
  const uint8_t mode = regs.gfx[gfx::kMode];
  const uint8_t rotate = regs.gfx[gfx::kDataRotate];
  const int function = (rotate >> 3) & 3;
  uint8_t bit_mask = regs.gfx[gfx::kBitMask];
  std::array<uint8_t, 4> data{};
  switch (mode & 3) {
    case 0: {
      const uint8_t rotated = rotate_right(value, rotate & 7);
      for (int p = 0; p < 4; ++p) {
        if (regs.gfx[gfx::kEnableSetReset] >> p & 1) {
          data[p] = (regs.gfx[gfx::kSetReset] >> p & 1) ? 0xFF : 0x00;
        } else {
          data[p] = rotated;
        }
      }
      break;
    }
    case 1:  // the latches as they are
      for (int p = 0; p < 4; ++p) memory_[4 * offset + p] = (map_mask >> p & 1) ? latch_[p] : memory_[4 * offset + p];
      dirty_.set(offset / kDirtyChunk);
      if (map_mask & 4) font_dirty_ = true;
      return;
    case 2:
      for (int p = 0; p < 4; ++p) data[p] = (value >> p & 1) ? 0xFF : 0x00;
      break;
    default: {
      bit_mask &= rotate_right(value, rotate & 7);
      for (int p = 0; p < 4; ++p) data[p] = (regs.gfx[gfx::kSetReset] >> p & 1) ? 0xFF : 0x00;
      break;
    }
  }
  for (int p = 0; p < 4; ++p) {
    uint8_t d = data[p];
    switch (function) {
      case 1: d &= latch_[p]; break;
      case 2: d |= latch_[p]; break;
      case 3: d ^= latch_[p]; break;
      default: break;
    }
    d = static_cast<uint8_t>((d & bit_mask) | (latch_[p] & ~bit_mask));
    if (map_mask >> p & 1) memory_[4 * offset + p] = d;
  }
  dirty_.set(offset / kDirtyChunk);
  if (map_mask & 4) font_dirty_ = true;
}

}  // namespace kvpc::vga
