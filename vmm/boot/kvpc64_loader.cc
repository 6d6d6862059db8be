#include "vmm/boot/kvpc64_loader.h"

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/guest_ranges.h"
#include "vmm/boot/kvpc64_header.h"
#include "vmm/boot/long_mode_tables.h"

namespace kvpc {
namespace {

using boot::write_bytes;
using boot::write_u32;
using boot::write_u64;

// Checks that the image fits in RAM below the PCI hole. The header parser already
// guaranteed load_address >= 1 MiB (so no overlap with the boot area) and no wrap.
Status check_image_placement(const Kvpc64Header& header, const GuestMemory& memory) {
  uint64_t end = header.load_address + header.memory_size;
  if (end > kKvpc64ImageLimit) {
    return make_error(fmt::format(
        "kvpc64 image [{:#x}, {:#x}) (load_address + memory_size) extends past {:#x}, where the PCI hole starts",
        header.load_address, end, kKvpc64ImageLimit));
  }
  if (!boot::is_guest_ram(memory, header.load_address, header.memory_size)) {
    auto room = boot::ram_region_end(memory, header.load_address);
    return make_error(fmt::format(
        "kvpc64 image [{:#x}, {:#x}) (load_address + memory_size) does not fit in guest RAM{}", header.load_address,
        end, room ? fmt::format(" (RAM there ends at {:#x})", *room) : std::string(" (no RAM at load_address)")));
  }
  return ok_status();
}

// stack_top 0 means "the end of the image, rounded down to 16". An explicit value must be
// 16-byte aligned (the SysV ABI's alignment at a call boundary), above the boot area so the
// first pushes cannot overwrite the tables, and in RAM the boot page tables map (< 4 GiB).
Result<uint64_t> resolve_stack_top(const Kvpc64Header& header, const GuestMemory& memory) {
  if (header.stack_top == 0) {
    return (header.load_address + header.memory_size) & ~(kKvpc64StackAlignment - 1);
  }
  uint64_t top = header.stack_top;
  if (top % kKvpc64StackAlignment != 0) {
    return make_error(fmt::format("kvpc64 header: stack_top {:#x} is not 16-byte aligned", top));
  }
  if (top < kKvpc64BootAreaEnd + kKvpc64StackAlignment || top > GuestMemory::k4GiB ||
      !boot::is_guest_ram(memory, top - kKvpc64StackAlignment, kKvpc64StackAlignment)) {
    return make_error(fmt::format(
        "kvpc64 header: stack_top {:#x} is not inside guest RAM between the boot area ({:#x}) and 4 GiB", top,
        kKvpc64BootAreaEnd));
  }
  return top;
}

Status check_cmdline(std::string_view cmdline) {
  if (cmdline.size() > kKvpc64MaxCmdlineBytes) {
    return make_error(fmt::format("kvpc64 command line is {} bytes; the protocol allows at most {}", cmdline.size(),
                                  kKvpc64MaxCmdlineBytes));
  }
  if (auto nul = cmdline.find('\0'); nul != std::string_view::npos) {
    return make_error(fmt::format("kvpc64 command line contains a NUL byte at offset {}", nul));
  }
  return ok_status();
}

// Boot info, command line and e820 map: one buffer from the boot info to the end of the
// boot area, so stale bytes from a previous boot never survive.
std::vector<uint8_t> boot_area(std::string_view cmdline, uint32_t cpus, const GuestMemory& memory,
                               const std::vector<E820Entry>& map) {
  auto at = [](uint64_t gpa) { return gpa - kKvpc64BootInfoAddress; };
  std::vector<uint8_t> area(kKvpc64BootAreaEnd - kKvpc64BootInfoAddress, 0);
  write_bytes(area, at(kKvpc64BootInfoAddress), kKvpc64BootInfoMagic);
  write_u64(area, at(kKvpc64BootInfoAddress) + 8, memory.ram_bytes());
  write_u64(area, at(kKvpc64BootInfoAddress) + 16, kKvpc64CmdlineAddress);
  write_u32(area, at(kKvpc64BootInfoAddress) + 24, static_cast<uint32_t>(cmdline.size()));
  write_u32(area, at(kKvpc64BootInfoAddress) + 28, cpus);
  write_u64(area, at(kKvpc64BootInfoAddress) + 32, kKvpc64E820Address);
  write_u32(area, at(kKvpc64BootInfoAddress) + 40, static_cast<uint32_t>(map.size()));
  write_bytes(area, at(kKvpc64CmdlineAddress), cmdline);
  for (size_t i = 0; i < map.size(); ++i) {
    uint64_t slot = at(kKvpc64E820Address) + i * kKvpc64E820EntryBytes;
    write_u64(area, slot, map[i].addr);
    write_u64(area, slot + 8, map[i].size);
    write_u32(area, slot + 16, map[i].type);
  }
  return area;
}

}  // namespace

Result<CpuEntryState> load_kvpc64(std::span<const uint8_t> image, std::string_view cmdline, uint32_t cpus,
                                  GuestMemory& memory) {
  auto header = parse_kvpc64_header(image);
  if (!header) return header.error();
  if (auto s = check_image_placement(*header, memory); !s) return s.error();
  auto stack_top = resolve_stack_top(*header, memory);
  if (!stack_top) return stack_top.error();
  if (auto s = check_cmdline(cmdline); !s) return s.error();
  if (cpus == 0) return make_error("kvpc64 boot needs at least one vCPU");
  std::vector<E820Entry> map = memory.e820();
  if (map.size() > kKvpc64MaxE820Entries) {
    return make_error(fmt::format("guest memory map has {} entries; the kvpc64 boot area holds at most {}", map.size(),
                                  kKvpc64MaxE820Entries));
  }
  if (!boot::is_guest_ram(memory, kKvpc64BootInfoAddress, kKvpc64BootAreaEnd - kKvpc64BootInfoAddress)) {
    return make_error(fmt::format("guest RAM does not cover the kvpc64 boot area [{:#x}, {:#x})",
                                  kKvpc64BootInfoAddress, kKvpc64BootAreaEnd));
  }

  CpuEntryState state;
  // The tables check their own RAM; they are written first so a failure leaves the image
  // area untouched.
  if (auto s = build_long_mode_tables(memory, *stack_top, state); !s) return s.error();
  if (!memory.write(kKvpc64BootInfoAddress, boot_area(cmdline, cpus, memory, map)) ||
      !boot::copy_and_zero_fill(memory, header->load_address, image, header->memory_size)) {
    return make_error("internal error: cannot write the kvpc64 image or boot area to guest RAM");
  }
  state.rip = header->load_address + header->entry_offset;
  state.rsp = *stack_top;
  state.rdi = kKvpc64BootInfoAddress;
  state.rflags = 0x2;
  return state;
}

}  // namespace kvpc
