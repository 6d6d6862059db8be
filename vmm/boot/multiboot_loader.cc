#include "vmm/boot/multiboot_loader.h"

#include <algorithm>

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/elf32.h"
#include "vmm/boot/guest_ranges.h"
#include "vmm/boot/multiboot_header.h"
#include "vmm/boot/multiboot_info.h"

namespace kvpc {
namespace {

constexpr uint64_t k4GiB = uint64_t{1} << 32;
constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kOneMiB = 0x100000;

// One contiguous piece of the kernel: `file_bytes` copied to `gpa`, then zeros up to
// `memory_size` (bss).
struct LoadChunk {
  std::string name;  // "ELF program header 1" or "a.out kludge load range" (for messages)
  uint64_t gpa = 0;
  std::span<const uint8_t> file_bytes;
  uint64_t memory_size = 0;
};

struct LoadPlan {
  std::vector<LoadChunk> chunks;
  uint64_t entry = 0;
};

// ELF entry points are virtual addresses. Kernels linked to run in the higher half have
// p_vaddr != p_paddr; since Multiboot starts them with paging off, an entry that is not a
// loaded physical address is translated through the segment whose virtual range holds it.
std::optional<uint64_t> physical_entry(const Elf32Executable& elf) {
  for (const auto& s : elf.segments) {
    if (elf.entry >= s.paddr && elf.entry - s.paddr < s.filesz) return elf.entry;
  }
  for (const auto& s : elf.segments) {
    if (elf.entry >= s.vaddr && elf.entry - s.vaddr < s.filesz) return uint64_t{s.paddr} + (elf.entry - s.vaddr);
  }
  return std::nullopt;
}

Result<LoadPlan> plan_elf(std::span<const uint8_t> image) {
  auto elf = parse_elf32_executable(image);
  if (!elf) return elf.error();
  LoadPlan plan;
  for (const auto& s : elf->segments) {
    plan.chunks.push_back({fmt::format("ELF program header {}", s.index), s.paddr, image.subspan(s.offset, s.filesz),
                           s.memsz});
  }
  auto entry = physical_entry(*elf);
  if (!entry) {
    return make_error(fmt::format(
        "ELF e_entry {:#x} is outside every loaded segment's file bytes (by p_paddr and by p_vaddr)", elf->entry));
  }
  plan.entry = *entry;
  return plan;
}

// The a.out kludge: the header says where it itself lives in memory (header_addr) and
// where loading starts (load_addr); the distance between them, measured back from the
// header's file offset, is where loading starts in the file.
Result<LoadPlan> plan_address_fields(std::span<const uint8_t> image, const MultibootHeader& header) {
  std::string where = fmt::format("Multiboot header at offset {:#x}", header.file_offset);
  if (header.load_addr > header.header_addr) {
    return make_error(fmt::format("{}: load_addr {:#x} is above header_addr {:#x}", where, header.load_addr,
                                  header.header_addr));
  }
  uint64_t header_distance = header.header_addr - header.load_addr;
  if (header_distance > header.file_offset) {
    return make_error(fmt::format(
        "{}: header_addr {:#x} - load_addr {:#x} = {:#x} is more than the header's file offset {:#x}, so loading "
        "would start before the beginning of the file",
        where, header.header_addr, header.load_addr, header_distance, header.file_offset));
  }
  uint64_t file_start = header.file_offset - header_distance;

  uint64_t load_bytes = 0;
  if (header.load_end_addr == 0) {
    // 0 means "text and data run to the end of the file".
    load_bytes = image.size() - file_start;
  } else {
    if (header.load_end_addr < header.load_addr) {
      return make_error(fmt::format("{}: load_end_addr {:#x} is below load_addr {:#x}", where, header.load_end_addr,
                                    header.load_addr));
    }
    load_bytes = header.load_end_addr - header.load_addr;
    if (!boot::range_fits(file_start, load_bytes, image.size())) {
      return make_error(fmt::format(
          "{}: load_end_addr {:#x} - load_addr {:#x} asks for {:#x} bytes from file offset {:#x}, but the file has "
          "only {:#x} bytes (truncated image?)",
          where, header.load_end_addr, header.load_addr, load_bytes, file_start, image.size()));
    }
  }
  uint64_t load_end = uint64_t{header.load_addr} + load_bytes;
  if (load_end > k4GiB) {
    return make_error(fmt::format("{}: load_addr {:#x} + {:#x} bytes of file wraps past 4 GiB", where,
                                  header.load_addr, load_bytes));
  }
  if (header_distance + header.size() > load_bytes) {
    return make_error(fmt::format(
        "{}: header_addr {:#x} does not lie inside the loaded range [load_addr {:#x}, {:#x})", where,
        header.header_addr, header.load_addr, load_end));
  }

  uint64_t memory_size = load_bytes;
  if (header.bss_end_addr != 0) {
    if (header.bss_end_addr < load_end) {
      return make_error(fmt::format("{}: bss_end_addr {:#x} is below the end of the loaded data {:#x}", where,
                                    header.bss_end_addr, load_end));
    }
    memory_size = header.bss_end_addr - header.load_addr;
  }
  if (header.entry_addr < header.load_addr || header.entry_addr >= load_end) {
    return make_error(fmt::format("{}: entry_addr {:#x} is outside the loaded range [{:#x}, {:#x})", where,
                                  header.entry_addr, header.load_addr, load_end));
  }

  LoadPlan plan;
  plan.chunks.push_back({"a.out kludge load range", header.load_addr, image.subspan(file_start, load_bytes),
                         memory_size});
  plan.entry = header.entry_addr;
  return plan;
}

Result<LoadPlan> plan_load(std::span<const uint8_t> image, const MultibootHeader& header) {
  // Like QEMU: the address fields win when present, even in an ELF file.
  if (header.has_address_fields()) return plan_address_fields(image, header);
  if (is_elf(image)) return plan_elf(image);
  return make_error(fmt::format(
      "Multiboot header at offset {:#x} does not set flag bit 16 (address fields) and the image is not ELF, so "
      "there is no way to know where to load it",
      header.file_offset));
}

Status check_placement(const LoadPlan& plan, const GuestMemory& memory) {
  for (size_t i = 0; i < plan.chunks.size(); ++i) {
    const LoadChunk& chunk = plan.chunks[i];
    uint64_t end = chunk.gpa + chunk.memory_size;  // below 4 GiB: both parsers checked
    if (!boot::is_guest_ram(memory, chunk.gpa, chunk.memory_size)) {
      auto room = boot::ram_region_end(memory, chunk.gpa);
      return make_error(fmt::format(
          "{}: [{:#x}, {:#x}) ({:#x} bytes) is not inside guest RAM{}", chunk.name, chunk.gpa, end, chunk.memory_size,
          room ? fmt::format(" (the RAM there ends at {:#x})", *room) : std::string(" (no RAM at its start)")));
    }
    if (boot::ranges_overlap(chunk.gpa, chunk.memory_size, kMultibootInfoAreaStart,
                             kMultibootInfoAreaEnd - kMultibootInfoAreaStart)) {
      return make_error(fmt::format("{}: [{:#x}, {:#x}) overlaps the Multiboot info area [{:#x}, {:#x})", chunk.name,
                                    chunk.gpa, end, kMultibootInfoAreaStart, kMultibootInfoAreaEnd));
    }
    for (size_t j = 0; j < i; ++j) {
      const LoadChunk& other = plan.chunks[j];
      if (boot::ranges_overlap(chunk.gpa, chunk.memory_size, other.gpa, other.memory_size)) {
        return make_error(fmt::format("{}: [{:#x}, {:#x}) overlaps {} at [{:#x}, {:#x})", chunk.name, chunk.gpa, end,
                                      other.name, other.gpa, other.gpa + other.memory_size));
      }
    }
  }
  return ok_status();
}

Result<std::vector<PlacedMultibootModule>> place_modules(const std::vector<MultibootModule>& modules,
                                                         uint64_t kernel_end, GuestMemory& memory) {
  std::vector<PlacedMultibootModule> placed;
  uint64_t cursor = std::max(kernel_end, kOneMiB);
  for (size_t i = 0; i < modules.size(); ++i) {
    const MultibootModule& module = modules[i];
    uint64_t start = *boot::align_up(cursor, kPageBytes);  // cursor <= 4 GiB: cannot overflow
    auto end = boot::checked_end(start, module.bytes.size());
    if (!end || *end > k4GiB || !boot::is_guest_ram(memory, start, module.bytes.size())) {
      auto room = boot::ram_region_end(memory, start);
      return make_error(fmt::format(
          "Multiboot module {} ('{}', {} bytes) does not fit in guest RAM below 4 GiB at {:#x}{}", i, module.cmdline,
          module.bytes.size(), start,
          room ? fmt::format(" (RAM there ends at {:#x})", *room) : std::string(" (no RAM there)")));
    }
    placed.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(*end), module.cmdline});
    cursor = *end;
  }
  return placed;
}

}  // namespace

Result<CpuEntryState> load_multiboot(std::span<const uint8_t> image, std::string_view cmdline,
                                     const std::vector<MultibootModule>& modules, GuestMemory& memory) {
  auto header = parse_multiboot_header(image);
  if (!header) return header.error();

  auto plan = plan_load(image, *header);
  if (!plan) return plan.error();
  if (auto s = check_placement(*plan, memory); !s) return s.error();

  uint64_t kernel_end = 0;
  for (const auto& chunk : plan->chunks) kernel_end = std::max(kernel_end, chunk.gpa + chunk.memory_size);
  auto placed_modules = place_modules(modules, kernel_end, memory);
  if (!placed_modules) return placed_modules.error();

  // Placement is validated. write_multiboot_info() checks its own limits (command line,
  // strings, counts) before writing anything; after it only infallible copies remain, so a
  // refused kernel leaves guest memory as it was.
  MultibootInfoContents contents;
  contents.mem_lower_kib = multiboot_mem_lower_kib(memory);
  contents.mem_upper_kib = multiboot_mem_upper_kib(memory);
  contents.cmdline = cmdline;
  contents.modules = std::move(placed_modules).value();
  contents.memory_map = memory.e820();
  auto info = write_multiboot_info(memory, contents);
  if (!info) return info.error();

  for (const auto& chunk : plan->chunks) {
    if (!boot::copy_and_zero_fill(memory, chunk.gpa, chunk.file_bytes, chunk.memory_size)) {
      return make_error(fmt::format("internal error: cannot copy {} to guest RAM", chunk.name));
    }
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    // Empty modules have nothing to copy (and an empty span may hold a null pointer).
    if (modules[i].bytes.empty()) continue;
    if (!memory.write(contents.modules[i].start, modules[i].bytes)) {
      return make_error(fmt::format("internal error: cannot copy Multiboot module {} to guest RAM", i));
    }
  }

  CpuEntryState state;
  state.mode = CpuEntryState::Mode::kProtected32;
  state.rax = kMultibootBootloaderMagic;
  state.rbx = *info;
  state.rip = plan->entry;
  return state;
}

}  // namespace kvpc
