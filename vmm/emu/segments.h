// Segment registers and their hidden descriptor caches.
#pragma once

#include <cstdint>

namespace kvpc::emu {

enum SegIndex : int8_t { kEs = 0, kCs = 1, kSs = 2, kDs = 3, kFs = 4, kGs = 5 };

// What the CPU remembers of a loaded descriptor. Limits are not enforced (flat guests only);
// the base applies in 32-bit modes and, in 64-bit mode, for FS and GS only.
struct Segment {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0xFFFFFFFF;
  uint8_t type = 0;   // descriptor type nibble (for TR: 0xB busy 64-bit TSS)
  uint8_t dpl = 0;
  bool long_mode = false;  // CS.L
  bool big = true;         // CS.D / SS.B: 32-bit default size
};

// Decodes the hidden-cache fields of an 8-byte code/data descriptor.
inline Segment segment_from_descriptor(uint16_t selector, uint64_t d) {
  Segment s;
  s.selector = selector;
  s.base = ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24);
  uint32_t limit = static_cast<uint32_t>((d & 0xFFFF) | (((d >> 48) & 0xF) << 16));
  if (d & (1ULL << 55)) limit = (limit << 12) | 0xFFF;  // granularity: 4 KiB units
  s.limit = limit;
  s.type = static_cast<uint8_t>((d >> 40) & 0xF);
  s.dpl = static_cast<uint8_t>((d >> 45) & 3);
  s.long_mode = (d >> 53) & 1;
  s.big = (d >> 54) & 1;
  return s;
}

}  // namespace kvpc::emu
