// Small builders for the boot images the loader tests feed in: Multiboot ELF32 files,
// a.out-kludge images, kvpc64 images and a bzImage stub. Built byte by byte here (not
// produced by a toolchain) so every field a test mutates has a known offset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vmm/guest_memory.h"

namespace kvpc::test {

using Bytes = std::vector<uint8_t>;

inline void put8(Bytes& b, uint64_t offset, uint8_t v) {
  if (b.size() < offset + 1) b.resize(offset + 1);
  b[offset] = v;
}
inline void put16(Bytes& b, uint64_t offset, uint16_t v) {
  for (int i = 0; i < 2; ++i) put8(b, offset + i, static_cast<uint8_t>(v >> (8 * i)));
}
inline void put32(Bytes& b, uint64_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) put8(b, offset + i, static_cast<uint8_t>(v >> (8 * i)));
}
inline void put64(Bytes& b, uint64_t offset, uint64_t v) {
  for (int i = 0; i < 8; ++i) put8(b, offset + i, static_cast<uint8_t>(v >> (8 * i)));
}
inline void put_text(Bytes& b, uint64_t offset, std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) put8(b, offset + i, static_cast<uint8_t>(text[i]));
}

// `size` bytes of a recognisable, position-dependent pattern (never all zero).
inline Bytes pattern(size_t size, uint8_t seed) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return b;
}

// Reads guest memory for assertions; empty when the range is not backed.
inline Bytes guest_bytes(const GuestMemory& memory, uint64_t gpa, uint64_t size) {
  Bytes out(size);
  if (!memory.read(gpa, out)) return {};
  return out;
}
inline uint32_t guest_u32(const GuestMemory& memory, uint64_t gpa) { return memory.read_obj<uint32_t>(gpa).value(); }
inline uint64_t guest_u64(const GuestMemory& memory, uint64_t gpa) { return memory.read_obj<uint64_t>(gpa).value(); }
inline std::string guest_c_string(const GuestMemory& memory, uint64_t gpa, size_t max = 8192) {
  std::string s;
  for (size_t i = 0; i < max; ++i) {
    auto c = memory.read_obj<char>(gpa + i);
    if (!c || *c == '\0') break;
    s.push_back(*c);
  }
  return s;
}
inline void fill_guest(GuestMemory& memory, uint64_t gpa, uint64_t size, uint8_t value) {
  Bytes b(size, value);
  memory.write(gpa, b);
}

// ---- Multiboot header --------------------------------------------------------------------

constexpr uint32_t kMbMagic = 0x1BADB002;
constexpr uint32_t kMbPageAlign = 1u << 0, kMbMemInfo = 1u << 1, kMbVideo = 1u << 2, kMbAddress = 1u << 16;

struct MbAddressFields {
  uint32_t header_addr = 0, load_addr = 0, load_end_addr = 0, bss_end_addr = 0, entry_addr = 0;
};

// Writes a Multiboot header at `offset`: 12 bytes, plus the address fields (and room for
// the video fields when kMbVideo is set). The checksum is correct unless overridden.
inline void put_multiboot_header(Bytes& b, uint64_t offset, uint32_t flags, const MbAddressFields& fields = {},
                                 std::optional<uint32_t> checksum = std::nullopt) {
  put32(b, offset, kMbMagic);
  put32(b, offset + 4, flags);
  put32(b, offset + 8, checksum.value_or(0u - kMbMagic - flags));
  if (flags & (kMbAddress | kMbVideo)) {
    put32(b, offset + 12, fields.header_addr);
    put32(b, offset + 16, fields.load_addr);
    put32(b, offset + 20, fields.load_end_addr);
    put32(b, offset + 24, fields.bss_end_addr);
    put32(b, offset + 28, fields.entry_addr);
  }
  if (flags & kMbVideo) {
    put32(b, offset + 32, 0);   // mode_type: linear graphics
    put32(b, offset + 36, 1024);
    put32(b, offset + 40, 768);
    put32(b, offset + 44, 32);
  }
}

// ---- Multiboot ELF32 ---------------------------------------------------------------------

struct ElfSegmentSpec {
  uint32_t paddr = 0;
  std::optional<uint32_t> vaddr;   // defaults to paddr
  Bytes data;                      // p_filesz = data.size()
  std::optional<uint32_t> memsz;   // defaults to data.size()
  uint32_t type = 1;               // PT_LOAD
};

inline ElfSegmentSpec load_segment(uint32_t paddr, Bytes data, std::optional<uint32_t> memsz = std::nullopt,
                                   std::optional<uint32_t> vaddr = std::nullopt, uint32_t type = 1) {
  ElfSegmentSpec s;
  s.paddr = paddr;
  s.vaddr = vaddr;
  s.data = std::move(data);
  s.memsz = memsz;
  s.type = type;
  return s;
}

struct ElfLayout {
  static constexpr uint64_t kHeaderBytes = 52;
  static constexpr uint64_t kPhoff = 52;
  static constexpr uint64_t kPhentsize = 32;
  static constexpr uint64_t kMultibootOffset = 0x400;
  static constexpr uint64_t kFirstSegmentOffset = 0x1000;
};

struct BuiltElf {
  Bytes bytes;
  std::vector<uint64_t> segment_offsets;  // file offset of each segment's data
  uint64_t phdr_offset(size_t i) const { return ElfLayout::kPhoff + i * ElfLayout::kPhentsize; }
};

// An ELF32 i386 executable with a Multiboot header at 0x400 and segment data from 0x1000,
// each segment's data starting on a 4 KiB file boundary.
inline BuiltElf build_multiboot_elf(const std::vector<ElfSegmentSpec>& segments, uint32_t entry,
                                    uint32_t mb_flags = kMbPageAlign | kMbMemInfo) {
  BuiltElf elf;
  Bytes& b = elf.bytes;
  put_text(b, 0, "\x7f" "ELF");
  put8(b, 4, 1);  // ELFCLASS32
  put8(b, 5, 1);  // little-endian
  put8(b, 6, 1);  // EV_CURRENT
  put16(b, 16, 2);  // ET_EXEC
  put16(b, 18, 3);  // EM_386
  put32(b, 20, 1);
  put32(b, 24, entry);
  put32(b, 28, ElfLayout::kPhoff);
  put16(b, 40, ElfLayout::kHeaderBytes);
  put16(b, 42, ElfLayout::kPhentsize);
  put16(b, 44, static_cast<uint16_t>(segments.size()));
  put_multiboot_header(b, ElfLayout::kMultibootOffset, mb_flags);

  uint64_t offset = ElfLayout::kFirstSegmentOffset;
  for (size_t i = 0; i < segments.size(); ++i) {
    const ElfSegmentSpec& s = segments[i];
    uint64_t ph = elf.phdr_offset(i);
    put32(b, ph + 0, s.type);
    put32(b, ph + 4, static_cast<uint32_t>(offset));
    put32(b, ph + 8, s.vaddr.value_or(s.paddr));
    put32(b, ph + 12, s.paddr);
    put32(b, ph + 16, static_cast<uint32_t>(s.data.size()));
    put32(b, ph + 20, s.memsz.value_or(static_cast<uint32_t>(s.data.size())));
    put32(b, ph + 24, 7);       // RWX
    put32(b, ph + 28, 0x1000);  // p_align
    elf.segment_offsets.push_back(offset);
    if (b.size() < offset) b.resize(offset);
    b.insert(b.end(), s.data.begin(), s.data.end());
    offset = (b.size() + 0xFFF) & ~uint64_t{0xFFF};
  }
  return elf;
}

// ---- a.out kludge ------------------------------------------------------------------------

struct AoutSpec {
  uint32_t load_addr = 0x100000;
  uint64_t header_offset = 0x40;  // file offset of the Multiboot header; loading starts at 0
  Bytes text = pattern(0x2000, 0x31);  // the whole file (the header is written over it)
  uint32_t bss_bytes = 0x1000;
  uint32_t entry_offset = 0x80;
  bool load_end_zero = false;  // load_end_addr = 0: "to the end of the file"
  uint32_t extra_flags = 0;
};

struct AoutFieldOffsets {
  static constexpr uint64_t kHeaderAddr = 12, kLoadAddr = 16, kLoadEndAddr = 20, kBssEndAddr = 24, kEntryAddr = 28;
};

inline Bytes build_aout_kludge(const AoutSpec& spec) {
  Bytes b = spec.text;
  MbAddressFields f;
  f.header_addr = spec.load_addr + static_cast<uint32_t>(spec.header_offset);
  f.load_addr = spec.load_addr;
  f.load_end_addr = spec.load_end_zero ? 0 : spec.load_addr + static_cast<uint32_t>(b.size());
  f.bss_end_addr = spec.bss_bytes == 0 ? 0 : spec.load_addr + static_cast<uint32_t>(b.size()) + spec.bss_bytes;
  f.entry_addr = spec.load_addr + spec.entry_offset;
  put_multiboot_header(b, spec.header_offset, kMbPageAlign | kMbMemInfo | kMbAddress | spec.extra_flags, f);
  return b;
}

// Rewrites one a.out address field and fixes nothing else (the checksum does not cover it).
inline void set_aout_field(Bytes& b, uint64_t header_offset, uint64_t field, uint32_t value) {
  put32(b, header_offset + field, value);
}

// ---- kvpc64 ------------------------------------------------------------------------------

struct Kvpc64Offsets {
  static constexpr uint64_t kMagic = 0, kVersion = 8, kHeaderSize = 12, kLoadAddress = 16, kEntryOffset = 24,
                            kMemorySize = 32, kStackTop = 40, kHeaderBytes = 48;
};

// Header + `code` (starting at offset 48, where the entry points by default).
inline Bytes build_kvpc64(uint64_t load_address, const Bytes& code, uint64_t bss_bytes = 0, uint64_t stack_top = 0,
                          uint64_t entry_offset = Kvpc64Offsets::kHeaderBytes) {
  Bytes b;
  put_text(b, Kvpc64Offsets::kMagic, "KVPC64IM");
  put32(b, Kvpc64Offsets::kVersion, 1);
  put32(b, Kvpc64Offsets::kHeaderSize, 48);
  put64(b, Kvpc64Offsets::kLoadAddress, load_address);
  put64(b, Kvpc64Offsets::kEntryOffset, entry_offset);
  put64(b, Kvpc64Offsets::kMemorySize, Kvpc64Offsets::kHeaderBytes + code.size() + bss_bytes);
  put64(b, Kvpc64Offsets::kStackTop, stack_top);
  b.insert(b.end(), code.begin(), code.end());
  return b;
}

// ---- Linux bzImage -----------------------------------------------------------------------

// Just enough of the real-mode setup header for detection: the boot sector signature and
// "HdrS".
inline Bytes build_bzimage_stub() {
  Bytes b = pattern(0x1000, 0x11);
  put16(b, 0x1FE, 0xAA55);
  put_text(b, 0x202, "HdrS");
  put16(b, 0x206, 0x020F);  // protocol version 2.15
  return b;
}

// A bzImage as the Linux boot protocol 2.15 lays it out (the values of a Debian 6.1 kernel,
// scaled down): boot sector + `setup_sects` sectors of setup code, then the protected-mode
// kernel (`kernel_bytes` of pattern). init_size leaves room for the "decompressor".
struct BzImageSpec {
  uint8_t setup_sects = 4;
  uint64_t kernel_bytes = 0x3000;
  uint16_t version = 0x020F;
  uint8_t loadflags = 0x01;
  uint16_t xloadflags = 0x7F;
  uint32_t kernel_alignment = 0x200000;
  uint8_t relocatable = 1;
  uint8_t min_alignment = 21;
  uint32_t initrd_addr_max = 0x7FFFFFFF;
  uint32_t cmdline_size = 0x7FF;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x400000;
};
inline Bytes build_bzimage(const BzImageSpec& spec = {}) {
  uint64_t kernel_offset = (uint64_t{spec.setup_sects} + 1) * 512;
  Bytes b = pattern(kernel_offset + spec.kernel_bytes, 0x5A);
  put8(b, 0x1F1, spec.setup_sects);
  put32(b, 0x1F4, static_cast<uint32_t>(spec.kernel_bytes / 16));
  put16(b, 0x1FE, 0xAA55);
  put8(b, 0x200, 0xEB);  // jmp short over the header: its displacement gives the header's end
  put8(b, 0x201, 0x6A);
  put_text(b, 0x202, "HdrS");
  put16(b, 0x206, spec.version);
  put8(b, 0x210, 0);
  put8(b, 0x211, spec.loadflags);
  put32(b, 0x214, 0x100000);
  put32(b, 0x218, 0);
  put32(b, 0x21C, 0);
  put32(b, 0x228, 0);
  put32(b, 0x22C, spec.initrd_addr_max);
  put32(b, 0x230, spec.kernel_alignment);
  put8(b, 0x234, spec.relocatable);
  put8(b, 0x235, spec.min_alignment);
  put16(b, 0x236, spec.xloadflags);
  put32(b, 0x238, spec.cmdline_size);
  put64(b, 0x258, spec.pref_address);
  put32(b, 0x260, spec.init_size);
  return b;
}

// An ELF64 x86-64 executable shaped like a vmlinux: PT_LOAD segments at physical addresses
// and a PT_NOTE holding Xen's PHYS32_ENTRY note (omitted when `entry_note_bytes` is 0).
struct PvhSegmentSpec {
  uint64_t paddr;
  Bytes bytes;
  uint64_t memsz;
};
inline Bytes build_pvh_elf(const std::vector<PvhSegmentSpec>& segments, uint64_t entry, int entry_note_bytes = 8) {
  const uint64_t phoff = 64, phentsize = 56;
  const uint64_t phnum = segments.size() + (entry_note_bytes ? 1 : 0);
  uint64_t data = phoff + phnum * phentsize;
  Bytes b(data, 0);
  put_text(b, 0, "\x7f" "ELF");
  put8(b, 4, 2);  // ELFCLASS64
  put8(b, 5, 1);  // little-endian
  put8(b, 6, 1);
  put16(b, 16, 2);   // ET_EXEC
  put16(b, 18, 62);  // EM_X86_64
  put32(b, 20, 1);
  put64(b, 24, 0xFFFFFFFF81000000ULL);  // e_entry: the virtual one, which PVH ignores
  put64(b, 32, phoff);
  put16(b, 52, 64);
  put16(b, 54, static_cast<uint16_t>(phentsize));
  put16(b, 56, static_cast<uint16_t>(phnum));
  uint64_t ph = phoff;
  for (const auto& s : segments) {
    put32(b, ph, 1);  // PT_LOAD
    put64(b, ph + 8, data);
    put64(b, ph + 16, 0xFFFFFFFF80000000ULL + s.paddr);
    put64(b, ph + 24, s.paddr);
    put64(b, ph + 32, s.bytes.size());
    put64(b, ph + 40, s.memsz);
    b.insert(b.end(), s.bytes.begin(), s.bytes.end());
    data += s.bytes.size();
    ph += phentsize;
  }
  if (entry_note_bytes) {
    Bytes note;
    put32(note, 0, 4);
    put32(note, 4, static_cast<uint32_t>(entry_note_bytes));
    put32(note, 8, 18);  // XEN_ELFNOTE_PHYS32_ENTRY
    put_text(note, 12, std::string_view("Xen\0", 4));
    if (entry_note_bytes == 8) {
      put64(note, 16, entry);
    } else {
      for (int i = 0; i < entry_note_bytes; ++i) put8(note, 16 + i, static_cast<uint8_t>(entry >> (8 * i)));
    }
    while (note.size() % 4) note.push_back(0);
    put32(b, ph, 4);  // PT_NOTE
    put64(b, ph + 8, data);
    put64(b, ph + 32, note.size());
    b.insert(b.end(), note.begin(), note.end());
  }
  return b;
}

}  // namespace kvpc::test
