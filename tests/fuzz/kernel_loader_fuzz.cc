// `kvpc run --kernel`: the one entry point that detects or takes the forced format and
// hands the image to its loader, with an optional command line and initrd.
// Byte 0: format (low 3 bits), cmdline (bit 3), initrd (bit 4), vCPUs (bits 5-7).
#include "tests/fuzz/loader_memory.h"
#include "vmm/boot/kernel_loader.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr KernelFormat kFormats[] = {KernelFormat::kAuto, KernelFormat::kMultiboot, KernelFormat::kKvpc64,
                                              KernelFormat::kFlat, KernelFormat::kLinuxBzImage, KernelFormat::kLinuxPvh};
  fuzz::FuzzInput in(data, size);
  uint8_t options = in.u8();
  KernelLoadRequest request;
  request.format = kFormats[(options & 7) % 6];
  request.path = "fuzz.img";
  if (options & 0x08) request.cmdline = std::string(in.text(in.u8()));
  if (options & 0x10) {
    request.initrd = in.chunk(16);
    request.initrd_path = "fuzz.initrd";
  }
  request.cpus = options >> 5;
  request.image = in.rest();
  auto state = load_kernel(request, fuzz::loader_memory());
  if (!state) KVPC_FUZZ_CHECK(state.error().message.rfind("kernel 'fuzz.img': ", 0) == 0);
  else KVPC_FUZZ_CHECK(request.cpus > 0 && !request.image.empty());
  return 0;
}
