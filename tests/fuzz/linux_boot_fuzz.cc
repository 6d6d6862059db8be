// Linux direct boot: the bzImage setup header and the vmlinux PVH ELF parsers, and the
// loaders behind them (through load_kernel with the format forced, command line and initrd).
// Byte 0: bit 0 picks bzImage or PVH, bit 1 adds an initrd; then a command line length byte
// and its text; the rest is the image.
#include "tests/fuzz/loader_memory.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/linux_pvh_image.h"
#include "vmm/boot/linux_setup_header.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t options = in.u8();
  KernelLoadRequest request;
  request.path = "vmlinuz";
  request.format = (options & 1) ? KernelFormat::kLinuxPvh : KernelFormat::kLinuxBzImage;
  request.cmdline = std::string(in.text(in.u8()));
  if (options & 2) {
    request.initrd = in.chunk(16);
    request.initrd_path = "initrd";
  }
  request.image = in.rest();
  if (auto header = parse_linux_setup_header(request.image)) {
    KVPC_FUZZ_CHECK(looks_like_linux_bzimage(request.image));
    KVPC_FUZZ_CHECK(header->kernel_offset + header->kernel_size <= request.image.size());
    KVPC_FUZZ_CHECK(header->kernel_size > 0);
  }
  if (auto pvh = parse_linux_pvh_image(request.image)) {
    KVPC_FUZZ_CHECK(is_elf64(request.image));
    for (const auto& segment : pvh->segments) KVPC_FUZZ_CHECK(segment.filesz <= segment.memsz);
  }
  auto state = load_kernel(request, fuzz::loader_memory());
  if (!state) KVPC_FUZZ_CHECK(!state.error().message.empty());
  return 0;
}
