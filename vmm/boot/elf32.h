// ELF32 executables as a Multiboot boot loader sees them: the entry point and the PT_LOAD
// segments, validated against the file (not against guest memory: that is the loader's job).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

struct Elf32LoadSegment {
  uint32_t index = 0;  // position in the program header table, for messages
  uint32_t offset = 0;
  uint32_t vaddr = 0;
  uint32_t paddr = 0;
  uint32_t filesz = 0;
  uint32_t memsz = 0;
};

struct Elf32Executable {
  uint32_t entry = 0;
  // PT_LOAD segments with p_memsz > 0, in program header order.
  std::vector<Elf32LoadSegment> segments;
};

// True when the image starts with the ELF magic (any class or machine).
bool is_elf(std::span<const uint8_t> image);

// Parses an ELF32 little-endian ET_EXEC EM_386 file. Checks: identification bytes, type,
// machine, version, the program header table lies inside the file, and every PT_LOAD has
// p_filesz <= p_memsz, file bytes inside the file and [p_paddr, p_paddr + p_memsz) below
// 4 GiB. At least one PT_LOAD with p_memsz > 0 is required.
Result<Elf32Executable> parse_elf32_executable(std::span<const uint8_t> image);

}  // namespace kvpc
