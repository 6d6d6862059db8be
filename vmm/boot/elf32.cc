#include "vmm/boot/elf32.h"

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"

namespace kvpc {
namespace {

using boot::range_fits;
using boot::read_u16;
using boot::read_u32;

// Facts from the System V ABI (ELF) and its i386 supplement.
constexpr uint64_t kElfHeaderBytes = 52;
constexpr uint64_t kProgramHeaderBytes = 32;
constexpr uint8_t kElfClass32 = 1, kElfClass64 = 2;
constexpr uint8_t kElfDataLittleEndian = 1;
constexpr uint8_t kElfVersionCurrent = 1;
constexpr uint16_t kElfTypeExecutable = 2;
constexpr uint16_t kElfMachine386 = 3;
constexpr uint16_t kElfPhnumExtended = 0xFFFF;  // PN_XNUM: real count in section 0
constexpr uint32_t kProgramTypeLoad = 1;

}  // namespace

bool is_elf(std::span<const uint8_t> image) { return boot::bytes_equal(image, 0, "\x7f" "ELF"); }

Result<Elf32Executable> parse_elf32_executable(std::span<const uint8_t> image) {
  if (!is_elf(image)) return make_error("not an ELF file (no 0x7f 'ELF' magic at offset 0)");
  if (image.size() < kElfHeaderBytes) {
    return make_error(fmt::format("ELF header truncated: the file is {} bytes, an ELF32 header needs {}",
                                  image.size(), kElfHeaderBytes));
  }
  uint8_t elf_class = image[4], data = image[5], ident_version = image[6];
  if (elf_class == kElfClass64) {
    return make_error("ELF class 2 (64-bit): Multiboot v1 loads only 32-bit ELF files (EI_CLASS 1)");
  }
  if (elf_class != kElfClass32) return make_error(fmt::format("ELF EI_CLASS {} is not 1 (32-bit)", elf_class));
  if (data != kElfDataLittleEndian) return make_error(fmt::format("ELF EI_DATA {} is not 1 (little-endian)", data));
  if (ident_version != kElfVersionCurrent) {
    return make_error(fmt::format("ELF EI_VERSION {} is not 1", ident_version));
  }
  uint16_t type = *read_u16(image, 16);
  uint16_t machine = *read_u16(image, 18);
  uint32_t version = *read_u32(image, 20);
  if (type != kElfTypeExecutable) {
    return make_error(fmt::format("ELF e_type {} is not 2 (ET_EXEC): Multiboot loads only executables", type));
  }
  if (machine != kElfMachine386) {
    return make_error(fmt::format("ELF e_machine {} is not 3 (EM_386)", machine));
  }
  if (version != kElfVersionCurrent) return make_error(fmt::format("ELF e_version {} is not 1", version));

  Elf32Executable executable;
  executable.entry = *read_u32(image, 24);
  uint32_t phoff = *read_u32(image, 28);
  uint16_t phentsize = *read_u16(image, 42);
  uint16_t phnum = *read_u16(image, 44);
  if (phnum == 0) return make_error("ELF e_phnum is 0: no program headers, nothing to load");
  if (phnum == kElfPhnumExtended) {
    return make_error("ELF e_phnum is 0xffff (PN_XNUM, extended numbering), which kvpc does not support");
  }
  if (phentsize < kProgramHeaderBytes) {
    return make_error(fmt::format("ELF e_phentsize {} is smaller than an ELF32 program header ({})", phentsize,
                                  kProgramHeaderBytes));
  }
  uint64_t table_bytes = uint64_t{phnum} * phentsize;
  if (!range_fits(phoff, table_bytes, image.size())) {
    return make_error(fmt::format(
        "ELF program header table truncated: e_phoff {:#x} + {} entries x {} bytes passes the end of the file "
        "({:#x} bytes)",
        phoff, phnum, phentsize, image.size()));
  }

  for (uint32_t i = 0; i < phnum; ++i) {
    uint64_t at = uint64_t{phoff} + uint64_t{i} * phentsize;
    if (*read_u32(image, at) != kProgramTypeLoad) continue;
    Elf32LoadSegment segment;
    segment.index = i;
    segment.offset = *read_u32(image, at + 4);
    segment.vaddr = *read_u32(image, at + 8);
    segment.paddr = *read_u32(image, at + 12);
    segment.filesz = *read_u32(image, at + 16);
    segment.memsz = *read_u32(image, at + 20);
    if (segment.filesz > segment.memsz) {
      return make_error(fmt::format("ELF program header {}: p_filesz {:#x} is larger than p_memsz {:#x}", i,
                                    segment.filesz, segment.memsz));
    }
    if (!range_fits(segment.offset, segment.filesz, image.size())) {
      return make_error(fmt::format(
          "ELF program header {}: p_offset {:#x} + p_filesz {:#x} passes the end of the file ({:#x} bytes)", i,
          segment.offset, segment.filesz, image.size()));
    }
    if (uint64_t{segment.paddr} + segment.memsz > (uint64_t{1} << 32)) {
      return make_error(fmt::format(
          "ELF program header {}: p_paddr {:#x} + p_memsz {:#x} wraps past 4 GiB", i, segment.paddr, segment.memsz));
    }
    if (segment.memsz == 0) continue;  // nothing to place; harmless
    executable.segments.push_back(segment);
  }
  if (executable.segments.empty()) return make_error("ELF file has no PT_LOAD segment with p_memsz > 0");
  return executable;
}

}  // namespace kvpc
