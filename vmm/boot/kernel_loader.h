// The one entry point behind `kvpc run --kernel`: detect (or take the forced) format and
// hand the image to its loader. Errors are prefixed with the image's path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/boot/image_file.h"
#include "vmm/boot/kernel_format.h"
#include "vmm/boot/mp_table.h"
#include "vmm/cpu_entry_state.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

struct KernelLoadRequest {
  std::span<const uint8_t> image;  // borrowed for the duration of load_kernel()
  std::string path;                // for messages only
  KernelFormat format = KernelFormat::kAuto;
  std::string cmdline;
  // Multiboot: becomes module 0 (as with QEMU's -initrd), its string initrd_path.
  // kvpc64 and flat images have no way to receive one: giving one is an error.
  std::optional<std::span<const uint8_t>> initrd;
  std::string initrd_path;
  uint32_t cpus = 1;
  // Linux: how each PCI function's INTx reaches the I/O APIC, for the MP table.
  std::vector<MpPciInterrupt> pci_interrupts;
};

Result<CpuEntryState> load_kernel(const KernelLoadRequest& request, GuestMemory& memory);

}  // namespace kvpc
