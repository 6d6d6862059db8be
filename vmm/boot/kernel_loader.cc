#include "vmm/boot/kernel_loader.h"

#include <fmt/format.h>

#include "vmm/boot/flat_loader.h"
#include "vmm/boot/kvpc64_loader.h"
#include "vmm/boot/linux_loader.h"
#include "vmm/boot/multiboot_loader.h"

namespace kvpc {
namespace {

Result<CpuEntryState> load_as(KernelFormat format, const KernelLoadRequest& request, GuestMemory& memory) {
  switch (format) {
    case KernelFormat::kMultiboot: {
      std::vector<MultibootModule> modules;
      if (request.initrd) modules.push_back({request.initrd_path, *request.initrd});
      return load_multiboot(request.image, request.cmdline, modules, memory);
    }
    case KernelFormat::kKvpc64:
      if (request.initrd) return make_error("kvpc64 images take no initrd: the boot protocol has no field for one");
      return load_kvpc64(request.image, request.cmdline, request.cpus, memory);
    case KernelFormat::kFlat:
      if (request.initrd) return make_error("flat images take no initrd: they have no way to find one");
      if (!request.cmdline.empty()) {
        return make_error("flat images take no command line: they have no way to find one");
      }
      return load_flat(request.image, memory);
    case KernelFormat::kLinuxBzImage:
    case KernelFormat::kLinuxPvh: {
      LinuxBootRequest linux_request{request.image, request.cmdline, request.initrd, {}};
      linux_request.mp.cpus = request.cpus;
      linux_request.mp.pci_interrupts = request.pci_interrupts;
      return format == KernelFormat::kLinuxPvh ? load_linux_pvh(linux_request, memory)
                                               : load_linux_bzimage(linux_request, memory);
    }
    case KernelFormat::kAuto:
      break;
  }
  return make_error("internal error: no loader for the 'auto' format");
}

}  // namespace

Result<CpuEntryState> load_kernel(const KernelLoadRequest& request, GuestMemory& memory) {
  auto in_context = [&](const Error& error) {
    return make_error(fmt::format("kernel '{}': {}", request.path, error.message));
  };
  if (request.cpus == 0) return in_context(make_error("at least one vCPU is needed"));
  KernelFormat format = request.format;
  if (format == KernelFormat::kAuto) {
    auto detected = detect_kernel_format(request.image);
    if (!detected) return in_context(detected.error());
    format = *detected;
  }
  auto state = load_as(format, request, memory);
  if (!state) {
    return in_context(make_error(fmt::format("{} (loading as {})", state.error().message, kernel_format_name(format))));
  }
  return state;
}

}  // namespace kvpc
