// kvpc64 images: the header parser and the loader (placement in RAM, boot info, command
// line, e820) on arbitrary bytes. Byte 0: the command line length; then the image.
#include "tests/fuzz/loader_memory.h"
#include "vmm/boot/kvpc64_header.h"
#include "vmm/boot/kvpc64_loader.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t options = in.u8();
  std::string cmdline(in.text(options & 0x3F));
  auto image = in.rest();
  auto header = parse_kvpc64_header(image);
  if (header) {
    KVPC_FUZZ_CHECK(header->load_address % kKvpc64LoadAlignment == 0);
    KVPC_FUZZ_CHECK(header->load_address >= kKvpc64MinLoadAddress);
    KVPC_FUZZ_CHECK(header->memory_size >= image.size());
    KVPC_FUZZ_CHECK(header->entry_offset < image.size());
  }
  auto state = load_kvpc64(image, cmdline, 1 + (options >> 6), fuzz::loader_memory());
  if (state) {
    KVPC_FUZZ_CHECK(header.ok());
    KVPC_FUZZ_CHECK(state->mode == CpuEntryState::Mode::kLong64);
    KVPC_FUZZ_CHECK(state->rip == header->load_address + header->entry_offset);
  }
  return 0;
}
