// VgaPlanes: the VGA's 256 KiB of display memory (four 64 KiB planes) as the CPU sees it
// through the 0xA0000-0xBFFFF window: memory map select, chain-4, odd/even, the plane
// map mask, read modes 0/1, write modes 0-3 with set/reset, rotate, logical function and
// bit mask, and the 32-bit latch.
//
// Storage is interleaved (byte 4*offset + plane), so one plane offset's four bytes are the
// latch. In chain-4 (mode 13h) CPU byte address a is plane a & 3 at offset a >> 2, i.e.
// simply byte a of the storage; in odd/even (text) mode a is plane a & 1 at offset a & ~1.
//
// Every store marks the 256-byte chunk of plane offsets it touched (dirty()), so the
// renderer re-draws only what changed.
//
// Concurrency contract: none inside; VgaDevice holds its lock around every call.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <vector>

#include "devices/vga/vga_registers.h"

namespace kvpc::vga {

inline constexpr uint32_t kPlaneSize = 64 * 1024;
inline constexpr uint32_t kDirtyChunk = 256;  // plane offsets per dirty bit
inline constexpr uint32_t kDirtyChunks = kPlaneSize / kDirtyChunk;

class VgaPlanes {
 public:
  VgaPlanes() : memory_(4 * kPlaneSize, 0) {}

  // `window_offset` is the address minus 0xA0000 (0 .. 0x1FFFF). Addresses outside the
  // window the memory map select enables read 0xFF and drop writes.
  uint8_t read(const VgaRegisters& regs, uint32_t window_offset);
  void write(const VgaRegisters& regs, uint32_t window_offset, uint8_t value);

  uint8_t plane_byte(int plane, uint32_t offset) const { return memory_[4 * (offset % kPlaneSize) + (plane & 3)]; }
  void set_plane_byte(int plane, uint32_t offset, uint8_t value) {
    memory_[4 * (offset % kPlaneSize) + (plane & 3)] = value;
    dirty_.set((offset % kPlaneSize) / kDirtyChunk);
    if ((plane & 3) == 2) font_dirty_ = true;
  }
  const std::vector<uint8_t>& interleaved() const { return memory_; }

  const std::bitset<kDirtyChunks>& dirty() const { return dirty_; }
  // Plane 2 (the text font) was written: every text cell may look different.
  bool font_dirty() const { return font_dirty_; }
  void clear_dirty() {
    dirty_.reset();
    font_dirty_ = false;
  }

 private:
  // Maps a window offset to (plane-offset, plane or -1 for "all planes by mask").
  bool map(const VgaRegisters& regs, uint32_t window_offset, uint32_t& offset) const;

  std::vector<uint8_t> memory_;
  std::array<uint8_t, 4> latch_{};
  std::bitset<kDirtyChunks> dirty_;
  bool font_dirty_ = false;
};

}  // namespace kvpc::vga
