// A VHD image (fixed or dynamic) from arbitrary bytes, opened on an in-memory backing file;
// when it opens, a script of reads, writes and flushes with the BlockImage properties checked
// (tests/fuzz/block_image_script.h), including that the written file opens again.
//
// Input: u16 script length, the script, then the image's bytes. A flag bit in the first
// script byte recomputes the footer and dynamic-header checksums before opening, so mutated
// fields behind the checksums get explored rather than stopping at "checksum mismatch".
#include "storage/vhd_format.h"
#include "storage/vhd_image.h"
#include "tests/fuzz/block_image_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

namespace {

// Writing a block allocates block_size bytes; beyond this the fuzzer only reads (a 256 MiB
// block is legal, but 64 of them would exceed the fuzzer's memory limit, not find a bug).
constexpr uint32_t kMaxWrittenBlockSize = 1u << 20;

void store_be32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

uint64_t load_be64(const std::vector<uint8_t>& bytes, size_t at) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | bytes[at + i];
  return value;
}

// Footer checksum at byte 64, dynamic header checksum at byte 36 (the specification's layout).
void fix_checksums(std::vector<uint8_t>& image) {
  if (image.size() < vhd::kFooterSize) return;
  const size_t tail = image.size() - vhd::kFooterSize;
  std::span<const uint8_t> footer(image.data() + tail, vhd::kFooterSize);
  store_be32(image, tail + 64, vhd::checksum(footer, 64));
  if (tail == 0) return;
  std::span<const uint8_t> copy(image.data(), vhd::kFooterSize);
  store_be32(image, 64, vhd::checksum(copy, 64));
  const uint64_t header_at = load_be64(image, tail + 16);  // footer data offset
  if (header_at <= image.size() && image.size() - header_at >= vhd::kDynamicHeaderSize) {
    std::span<const uint8_t> header(image.data() + header_at, vhd::kDynamicHeaderSize);
    store_be32(image, header_at + 36, vhd::checksum(header, 36));
  }
}

Result<std::unique_ptr<BlockImage>> open_vhd(std::vector<uint8_t> bytes) {
  auto image = VhdImage::open(std::make_unique<MemoryBackingFile>(std::move(bytes)));
  if (!image.ok()) return image.error();
  return std::unique_ptr<BlockImage>(std::move(image).value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const size_t script_size = in.u16() % 1024;
  const auto script_bytes = in.bytes(script_size);
  const auto image_bytes = in.rest();
  std::vector<uint8_t> bytes(image_bytes.begin(), image_bytes.end());
  FuzzInput script(script_bytes);
  if (script.u8() & 1) fix_checksums(bytes);

  auto file = std::make_unique<MemoryBackingFile>(std::move(bytes));
  const MemoryBackingFile& file_view = *file;
  auto opened = VhdImage::open(std::move(file));
  if (!opened.ok()) {
    KVPC_FUZZ_CHECK(!opened.error().message.empty());  // a refusal says why
    return 0;
  }
  VhdImage& image = **opened;
  KVPC_FUZZ_CHECK(image.size_bytes() % BlockImage::kSectorSize == 0);
  KVPC_FUZZ_CHECK(image.footer().current_size == image.size_bytes());
  const bool allow_writes = !image.dynamic() || image.block_size() <= kMaxWrittenBlockSize;
  const uint64_t file_size_before = file_view.size();
  run_block_image_script(image, file_view, script, open_vhd, allow_writes);
  // A fixed VHD never grows; a dynamic one grows by whole blocks (bitmap + data) only, the
  // first one starting at the old footer's offset rounded up to a sector (a file whose length
  // is not whole sectors is legal: the footer is simply its last 512 bytes).
  if (!image.dynamic()) {
    KVPC_FUZZ_CHECK(file_view.size() == file_size_before);
  } else if (file_view.size() != file_size_before) {
    const uint64_t block_bytes = uint64_t{vhd::bitmap_bytes(image.block_size())} + image.block_size();
    const uint64_t first_block = (file_size_before - vhd::kFooterSize + 511) / 512 * 512;
    KVPC_FUZZ_CHECK(file_view.size() >= first_block + block_bytes + vhd::kFooterSize);
    KVPC_FUZZ_CHECK((file_view.size() - vhd::kFooterSize - first_block) % block_bytes == 0);
  }
  return 0;
}
