#include "vmm/boot/linux_pvh_image.h"

#include <fmt/format.h>

#include <optional>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/guest_ranges.h"

namespace kvpc {
namespace {

using boot::range_fits;
using boot::read_u16;
using boot::read_u32;
using boot::read_u64;

// Facts from the System V ABI (ELF-64) and its x86-64 supplement.
constexpr uint64_t kElf64HeaderBytes = 64;
constexpr uint64_t kElf64ProgramHeaderBytes = 56;
constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfDataLittleEndian = 1;
constexpr uint16_t kElfTypeExecutable = 2;
constexpr uint16_t kElfMachineX86_64 = 62;
constexpr uint32_t kProgramTypeLoad = 1;
constexpr uint32_t kProgramTypeNote = 4;
// A vmlinux has a handful of program headers; this bounds the work a hostile file causes.
constexpr uint16_t kMaxProgramHeaders = 256;

uint64_t align4(uint64_t v) { return (v + 3) & ~uint64_t{3}; }

struct ProgramHeader {
  uint32_t type;
  uint64_t offset, paddr, filesz, memsz;
};

std::optional<ProgramHeader> program_header(std::span<const uint8_t> image, uint64_t at) {
  auto type = read_u32(image, at);
  auto offset = read_u64(image, at + 8);
  auto paddr = read_u64(image, at + 24);
  auto filesz = read_u64(image, at + 32);
  auto memsz = read_u64(image, at + 40);
  if (!type || !offset || !paddr || !filesz || !memsz) return std::nullopt;
  return ProgramHeader{*type, *offset, *paddr, *filesz, *memsz};
}

// Walks the notes in [offset, offset+size) looking for Xen's PHYS32_ENTRY. Notes are
// (namesz, descsz, type, name padded to 4, desc padded to 4).
Result<std::optional<uint32_t>> find_pvh_entry(std::span<const uint8_t> image, uint64_t offset, uint64_t size) {
  uint64_t at = offset, end = offset + size;
  while (end - at >= 12) {
    uint32_t namesz = *read_u32(image, at), descsz = *read_u32(image, at + 4), type = *read_u32(image, at + 8);
    uint64_t name_at = at + 12;
    if (align4(namesz) > end - name_at) break;  // a malformed tail: stop rather than read past the segment
    uint64_t desc_at = name_at + align4(namesz);
    if (align4(descsz) > end - desc_at) break;
    bool is_xen = namesz == 4 && boot::bytes_equal(image, name_at, std::string_view("Xen\0", 4));
    if (is_xen && type == kXenElfNotePhys32Entry) {
      uint64_t entry = 0;
      if (descsz == 4) {
        entry = *read_u32(image, desc_at);
      } else if (descsz == 8) {
        entry = *read_u64(image, desc_at);
      } else {
        return make_error(fmt::format("PVH entry note has a {}-byte value; 4 or 8 expected", descsz));
      }
      if (entry > UINT32_MAX) return make_error(fmt::format("PVH entry point {:#x} is above 4 GiB", entry));
      return std::optional<uint32_t>(static_cast<uint32_t>(entry));
    }
    at = desc_at + align4(descsz);
  }
  return std::optional<uint32_t>();
}

Status check_header(std::span<const uint8_t> image) {
  if (!is_elf64(image)) return make_error("not a 64-bit little-endian ELF file");
  if (image.size() < kElf64HeaderBytes) {
    return make_error(fmt::format("ELF64 header truncated: the file is {} bytes, the header needs {}", image.size(),
                                  kElf64HeaderBytes));
  }
  if (*read_u16(image, 16) != kElfTypeExecutable) {
    return make_error(fmt::format("ELF e_type {} is not 2 (executable)", *read_u16(image, 16)));
  }
  if (*read_u16(image, 18) != kElfMachineX86_64) {
    return make_error(fmt::format("ELF e_machine {} is not 62 (x86-64)", *read_u16(image, 18)));
  }
  return ok_status();
}

}  // namespace

bool is_elf64(std::span<const uint8_t> image) {
  return boot::bytes_equal(image, 0, "\x7f" "ELF") && image.size() > 5 && image[4] == kElfClass64 &&
         image[5] == kElfDataLittleEndian;
}

bool has_pvh_entry_note(std::span<const uint8_t> image) {
  return static_cast<bool>(parse_linux_pvh_image(image));
}

Result<LinuxPvhImage> parse_linux_pvh_image(std::span<const uint8_t> image) {
  if (auto status = check_header(image); !status) return status.error();
  uint64_t phoff = *read_u64(image, 32);
  uint16_t phentsize = *read_u16(image, 54), phnum = *read_u16(image, 56);
  if (phnum == 0) return make_error("ELF file has no program headers: nothing to load");
  if (phnum > kMaxProgramHeaders) return make_error(fmt::format("ELF e_phnum {} is more than {}", phnum, kMaxProgramHeaders));
  if (phentsize != kElf64ProgramHeaderBytes) {
    return make_error(fmt::format("ELF e_phentsize {} is not {}", phentsize, kElf64ProgramHeaderBytes));
  }
  if (!range_fits(phoff, uint64_t{phnum} * phentsize, image.size())) {
    return make_error(fmt::format("ELF program header table ({} entries at {:#x}) lies outside the {}-byte file", phnum,
                                  phoff, image.size()));
  }
  LinuxPvhImage result;
  std::optional<uint32_t> entry;
  for (uint32_t i = 0; i < phnum; ++i) {
    auto ph = program_header(image, phoff + uint64_t{i} * phentsize);
    if (!ph) return make_error(fmt::format("ELF program header {} is truncated", i));
    if (ph->type == kProgramTypeNote) {
      if (!range_fits(ph->offset, ph->filesz, image.size())) {
        return make_error(fmt::format("ELF PT_NOTE {} lies outside the file", i));
      }
      auto found = find_pvh_entry(image, ph->offset, ph->filesz);
      if (!found) return found.error();
      if (*found && !entry) entry = *found;
      continue;
    }
    if (ph->type != kProgramTypeLoad || ph->memsz == 0) continue;
    if (ph->filesz > ph->memsz) {
      return make_error(fmt::format("ELF PT_LOAD {}: p_filesz {:#x} is larger than p_memsz {:#x}", i, ph->filesz, ph->memsz));
    }
    if (!range_fits(ph->offset, ph->filesz, image.size())) {
      return make_error(fmt::format("ELF PT_LOAD {}: file bytes [{:#x}, +{:#x}) lie outside the {}-byte file", i,
                                    ph->offset, ph->filesz, image.size()));
    }
    auto end = boot::checked_end(ph->paddr, ph->memsz);
    if (!end || *end > 0x100000000ULL) {
      return make_error(fmt::format("ELF PT_LOAD {}: physical range [{:#x}, +{:#x}) does not lie below 4 GiB", i,
                                    ph->paddr, ph->memsz));
    }
    result.segments.push_back({i, ph->offset, ph->paddr, ph->filesz, ph->memsz});
  }
  if (result.segments.empty()) return make_error("ELF file has no PT_LOAD segment with memory to load");
  if (!entry) {
    return make_error(
        "ELF64 kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): build it with CONFIG_PVH=y, or boot its bzImage");
  }
  result.entry = *entry;
  return result;
}

}  // namespace kvpc
