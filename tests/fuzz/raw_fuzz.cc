// A raw image from arbitrary bytes on an in-memory backing file, driven by a script of reads,
// writes and flushes with the BlockImage properties checked (tests/fuzz/block_image_script.h).
//
// Input: u16 script length, the script, then the image's bytes (a trailing partial sector is
// not part of the disk, and writes must leave it alone).
#include "storage/raw_image.h"
#include "tests/fuzz/block_image_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

namespace {

Result<std::unique_ptr<BlockImage>> open_raw(std::vector<uint8_t> bytes) {
  auto image = RawImage::open(std::make_unique<MemoryBackingFile>(std::move(bytes)));
  if (!image.ok()) return image.error();
  return std::unique_ptr<BlockImage>(std::move(image).value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const size_t script_size = in.u16() % 1024;
  FuzzInput script(in.bytes(script_size));
  const auto image_bytes = in.rest();
  const bool read_only = script.flag();
  auto file = std::make_unique<MemoryBackingFile>(std::vector<uint8_t>(image_bytes.begin(), image_bytes.end()), read_only);
  const MemoryBackingFile& file_view = *file;
  auto opened = RawImage::open(std::move(file));
  if (!opened.ok()) return 0;  // (an empty file, say)
  RawImage& image = **opened;
  KVPC_FUZZ_CHECK(image.size_bytes() == image_bytes.size() / BlockImage::kSectorSize * BlockImage::kSectorSize);
  KVPC_FUZZ_CHECK(image.read_only() == read_only);
  run_block_image_script(image, file_view, script, open_raw);
  // The file keeps its length and its trailing partial sector.
  KVPC_FUZZ_CHECK(file_view.size() == image_bytes.size());
  const size_t tail = image.size_bytes();
  KVPC_FUZZ_CHECK(std::equal(image_bytes.begin() + tail, image_bytes.end(), file_view.bytes().begin() + tail));
  if (read_only) KVPC_FUZZ_CHECK(std::equal(image_bytes.begin(), image_bytes.end(), file_view.bytes().begin()));
  return 0;
}
