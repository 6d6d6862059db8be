#include "vmm/boot/flat_loader.h"

#include <fmt/format.h>

#include "vmm/boot/guest_ranges.h"

namespace kvpc {

Result<CpuEntryState> load_flat(std::span<const uint8_t> image, GuestMemory& memory) {
  if (image.empty()) return make_error("flat image is empty");
  constexpr uint64_t kRoom = kFlatLoadLimit - kFlatLoadAddress;
  if (image.size() > kRoom) {
    return make_error(fmt::format(
        "flat image is {} bytes; loaded at {:#x} it must end below {:#x}, so at most {} bytes ({} KiB)", image.size(),
        kFlatLoadAddress, kFlatLoadLimit, kRoom, kRoom / 1024));
  }
  if (!boot::copy_and_zero_fill(memory, kFlatLoadAddress, image, image.size())) {
    return make_error(fmt::format("guest RAM does not cover [{:#x}, {:#x}) for the flat image", kFlatLoadAddress,
                                  kFlatLoadAddress + image.size()));
  }
  CpuEntryState state;
  state.mode = CpuEntryState::Mode::kReal16;
  state.cs_selector = kFlatSegment;
  state.cs_base = uint64_t{kFlatSegment} << 4;
  state.data_selector = kFlatSegment;
  state.rip = 0;
  // SS:SP = 1000:8000 puts the stack at 0x18000, inside images over 32 KiB; kvmtool does
  // the same, and code that cares sets its own stack first thing.
  state.rsp = kFlatStackPointer;
  return state;
}

}  // namespace kvpc
