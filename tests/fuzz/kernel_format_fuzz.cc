// --kernel-format detection and parsing on arbitrary bytes and spellings.
#include "tests/fuzz/fuzz_input.h"
#include "vmm/boot/kernel_format.h"
#include "vmm/boot/multiboot_header.h"

using namespace kvpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> image(data, size);
  auto format = detect_kernel_format(image);
  if (format) {
    KVPC_FUZZ_CHECK(*format != KernelFormat::kAuto);
    if (*format == KernelFormat::kMultiboot) KVPC_FUZZ_CHECK(has_multiboot_header(image));
    // The name of every detected format parses back to it.
    auto again = parse_kernel_format(kernel_format_name(*format));
    KVPC_FUZZ_CHECK(again && *again == *format);
  } else {
    KVPC_FUZZ_CHECK(!format.error().message.empty());
  }
  if (auto offset = find_multiboot_magic(image)) KVPC_FUZZ_CHECK(*offset % 4 == 0 && *offset + 4 <= size);
  (void)parse_kernel_format(std::string_view(reinterpret_cast<const char*>(data), size < 32 ? size : 32));
  return 0;
}
