#include "vmm/boot/linux_loader.h"

#include <fmt/format.h>

#include <vector>

#include "vmm/boot/byte_reader.h"
#include "vmm/boot/guest_ranges.h"
#include "vmm/boot/linux_pvh_image.h"
#include "vmm/boot/linux_setup_header.h"
#include "vmm/boot/long_mode_tables.h"

namespace kvpc {
namespace {

using boot::write_u16;
using boot::write_u32;
using boot::write_u64;
using H = LinuxSetupOffsets;
using P = BootParamsOffsets;

constexpr uint64_t kPage = 0x1000;
constexpr uint64_t kOneMiB = 0x100000;
constexpr uint8_t kLoaderTypeUndefined = 0xFF;  // "no assigned boot loader ID"
constexpr uint16_t kHeapEndPointer = 0xFE00;    // the value the protocol suggests
// The kernel's own GDT entries the 64-bit protocol requires before it loads its own.
constexpr uint16_t kBootCs = 0x10, kBootDs = 0x18;

Status check_cmdline(std::string_view cmdline, uint64_t max_bytes) {
  if (cmdline.find('\0') != std::string_view::npos) return make_error("the kernel command line contains a NUL byte");
  if (cmdline.size() > max_bytes) {
    return make_error(
        fmt::format("the kernel command line is {} bytes; this kernel accepts at most {}", cmdline.size(), max_bytes));
  }
  return ok_status();
}

Status write_cmdline(GuestMemory& memory, std::string_view cmdline) {
  std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
  bytes.push_back(0);
  if (!memory.write(kLinuxCmdlineAddress, bytes)) return make_error("guest RAM does not hold the command line area");
  return ok_status();
}

// The highest page-aligned place for `size` bytes that ends at or below `limit_end` and
// starts at or above `lowest`, within the RAM that contains `lowest`.
Result<uint64_t> place_initrd(const GuestMemory& memory, uint64_t size, uint64_t lowest, uint64_t limit_end) {
  auto ram_end = boot::ram_region_end(memory, lowest);
  if (!ram_end) return make_error(fmt::format("no guest RAM at {:#x} after the kernel for the initrd", lowest));
  uint64_t end = std::min(*ram_end, limit_end);
  // The kernel is also below 4 GiB here; low RAM ends at the PCI hole at most.
  if (size > end || ((end - size) & ~(kPage - 1)) < lowest) {
    return make_error(fmt::format(
        "the {}-byte initrd does not fit between the kernel's end ({:#x}) and {:#x}: give the VM more memory (--mem)",
        size, lowest, end));
  }
  return (end - size) & ~(kPage - 1);
}

Result<uint64_t> choose_bzimage_address(const LinuxSetupHeader& h, const GuestMemory& memory) {
  auto fits = [&](uint64_t address) {
    return address >= kOneMiB && boot::is_guest_ram(memory, address, h.init_size);
  };
  if (fits(h.pref_address)) return h.pref_address;
  if (h.relocatable) {
    auto low = boot::align_up(kOneMiB, std::max<uint64_t>(h.kernel_alignment, uint64_t{1} << h.min_alignment_log2));
    if (low && fits(*low)) return *low;
  }
  auto room = boot::contiguous_ram_from(memory, kOneMiB);
  return make_error(fmt::format(
      "the kernel needs {} MiB of RAM from its load address {:#x} (init_size {:#x}); the VM has {} MiB above 1 MiB: "
      "give it more memory (--mem)",
      (h.init_size + kOneMiB - 1) / kOneMiB, h.pref_address, h.init_size, room / kOneMiB));
}

std::vector<E820Entry> memory_map(const GuestMemory& memory) { return memory.e820(); }

}  // namespace

Result<CpuEntryState> load_linux_bzimage(const LinuxBootRequest& request, GuestMemory& memory) {
  auto header = parse_linux_setup_header(request.image);
  if (!header) return header.error();
  const LinuxSetupHeader& h = *header;
  if (auto s = check_cmdline(request.cmdline, h.cmdline_size); !s) return s.error();
  auto load_address = choose_bzimage_address(h, memory);
  if (!load_address) return load_address.error();
  auto kernel = request.image.subspan(h.kernel_offset);
  if (!memory.write(*load_address, kernel)) return make_error("internal error: the kernel's load range is not writable");

  std::vector<uint8_t> params(P::kSize, 0);
  // The setup header goes into boot_params unchanged, from 0x1F1 to its end (0x202 plus the
  // jump's displacement byte at 0x201), then kvpc fills in the fields a boot loader owns.
  uint64_t header_end = std::min<uint64_t>(0x202 + request.image[0x201], P::kSize);
  header_end = std::min<uint64_t>(header_end, request.image.size());
  for (uint64_t i = H::kSetupSects; i < header_end; ++i) params[i] = request.image[i];
  params[P::kSentinel] = 0;  // tells the kernel this zero page was built field by field
  params[H::kTypeOfLoader] = kLoaderTypeUndefined;
  params[H::kLoadFlags] = static_cast<uint8_t>(h.loadflags | kLoadFlagCanUseHeap);
  write_u16(params, H::kHeapEndPtr, kHeapEndPointer);
  write_u16(params, H::kVidMode, 0xFFFF);  // "normal": the kernel keeps whatever the screen is
  write_u32(params, H::kCode32Start, static_cast<uint32_t>(*load_address));
  write_u32(params, H::kCmdLinePtr, static_cast<uint32_t>(kLinuxCmdlineAddress));

  if (request.initrd) {
    uint64_t limit = std::min<uint64_t>(uint64_t{h.initrd_addr_max} + 1, GuestMemory::kPciHoleStart);
    auto at = place_initrd(memory, request.initrd->size(), *load_address + h.init_size, limit);
    if (!at) return at.error();
    if (!memory.write(*at, *request.initrd)) return make_error("internal error: the initrd range is not writable");
    write_u32(params, H::kRamdiskImage, static_cast<uint32_t>(*at));
    write_u32(params, H::kRamdiskSize, static_cast<uint32_t>(request.initrd->size()));
    write_u32(params, P::kExtRamdiskImage, static_cast<uint32_t>(*at >> 32));
    write_u32(params, P::kExtRamdiskSize, static_cast<uint32_t>(uint64_t{request.initrd->size()} >> 32));
  }

  auto map = memory_map(memory);
  if (map.size() > P::kE820MaxEntries) return make_error("the memory map has more than 128 entries");
  params[P::kE820Entries] = static_cast<uint8_t>(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    uint64_t o = P::kE820Table + i * 20;
    write_u64(params, o, map[i].addr);
    write_u64(params, o + 8, map[i].size);
    write_u32(params, o + 16, map[i].type);
  }
  if (!memory.write(kLinuxBootParamsAddress, params)) return make_error("guest RAM does not hold boot_params");
  if (auto s = write_cmdline(memory, request.cmdline); !s) return s.error();
  if (auto s = write_mp_table(memory, request.mp); !s) return s.error();

  CpuEntryState state;
  if (auto s = build_long_mode_tables(memory, kLinuxBootStackTop, state); !s) return s.error();
  // The 64-bit protocol wants CS = 0x10 and DS/ES/SS = 0x18 in the loaded GDT; kvpc's table
  // has user-mode entries there, which nothing uses before the kernel loads its own GDT.
  if (!memory.write_obj(state.gdt_base + kBootCs, kGdtKernelCode64) ||
      !memory.write_obj(state.gdt_base + kBootDs, kGdtKernelData)) {
    return make_error("internal error: the boot GDT is not writable");
  }
  state.code_selector = kBootCs;
  state.data_selector64 = kBootDs;
  state.rip = *load_address + kLinux64BitEntryOffset;
  state.rsi = kLinuxBootParamsAddress;
  state.rsp = kLinuxBootStackTop;
  state.rflags = 0x2;  // interrupts off, as the protocol requires
  return state;
}

Result<CpuEntryState> load_linux_pvh(const LinuxBootRequest& request, GuestMemory& memory) {
  auto image = parse_linux_pvh_image(request.image);
  if (!image) return image.error();
  if (auto s = check_cmdline(request.cmdline, kLinuxPvhMaxCmdline); !s) return s.error();
  uint64_t kernel_end = 0;
  for (const auto& segment : image->segments) {
    if (segment.paddr < kOneMiB || !boot::is_guest_ram(memory, segment.paddr, segment.memsz)) {
      return make_error(fmt::format(
          "ELF PT_LOAD {}: [{:#x}, {:#x}) is not inside guest RAM above 1 MiB (give the VM more memory with --mem?)",
          segment.index, segment.paddr, segment.paddr + segment.memsz));
    }
    if (!boot::copy_and_zero_fill(memory, segment.paddr, request.image.subspan(segment.offset, segment.filesz),
                                  segment.memsz)) {
      return make_error("internal error: a PT_LOAD range is not writable");
    }
    kernel_end = std::max(kernel_end, segment.paddr + segment.memsz);
  }

  std::vector<uint8_t> info(HvmStartInfoLayout::kSize, 0);
  write_u32(info, 0, kHvmStartMagic);
  write_u32(info, 4, 1);  // version 1: has the memory map fields
  write_u64(info, 24, kLinuxCmdlineAddress);
  if (request.initrd) {
    auto at = place_initrd(memory, request.initrd->size(), boot::align_up(kernel_end, kPage).value_or(kernel_end),
                           GuestMemory::kPciHoleStart);
    if (!at) return at.error();
    if (!memory.write(*at, *request.initrd)) return make_error("internal error: the initrd range is not writable");
    std::vector<uint8_t> module(32, 0);
    write_u64(module, 0, *at);
    write_u64(module, 8, request.initrd->size());
    if (!memory.write(HvmStartInfoLayout::kModuleListAddress, module)) return make_error("guest RAM lacks the module list");
    write_u32(info, 12, 1);
    write_u64(info, 16, HvmStartInfoLayout::kModuleListAddress);
  }
  auto map = memory_map(memory);
  if (map.size() > HvmStartInfoLayout::kMaxMemoryMapEntries) return make_error("the memory map has too many entries");
  std::vector<uint8_t> table(map.size() * 24, 0);
  for (size_t i = 0; i < map.size(); ++i) {
    write_u64(table, i * 24, map[i].addr);
    write_u64(table, i * 24 + 8, map[i].size);
    write_u32(table, i * 24 + 16, map[i].type);
  }
  if (!memory.write(HvmStartInfoLayout::kMemoryMapAddress, table)) return make_error("guest RAM lacks the memory map");
  write_u64(info, 40, HvmStartInfoLayout::kMemoryMapAddress);
  write_u32(info, 48, static_cast<uint32_t>(map.size()));
  if (!memory.write(kLinuxBootParamsAddress, info)) return make_error("guest RAM does not hold hvm_start_info");
  if (auto s = write_cmdline(memory, request.cmdline); !s) return s.error();
  if (auto s = write_mp_table(memory, request.mp); !s) return s.error();

  // The PVH ABI: 32-bit protected mode, paging off, flat segments, EBX = start_info.
  CpuEntryState state;
  state.mode = CpuEntryState::Mode::kProtected32;
  state.rip = image->entry;
  state.rbx = kLinuxBootParamsAddress;
  state.rflags = 0x2;
  return state;
}

}  // namespace kvpc
