// VhdImage when the host refuses a write or a sync: at every step of a block allocation, and
// when the file system runs out of space part-way through a write. Whatever fails, the file
// left behind is a valid VHD, every write that returned success reads back, and the image
// in memory agrees with the file (a failed write is not half-visible until the next open).
// The end-to-end version on a real full tmpfs is tests/e2e/disk_full_test.cc.
#include <gtest/gtest.h>

#include <optional>

#include "storage/block_image.h"
#include "tests/unit/storage/vhd_test_images.h"

namespace kvpc {
namespace {

using testing::make_image;
using testing::pattern;

constexpr uint64_t kSize = 8ULL << 20;
constexpr uint32_t kBlock = 64 * 1024;

// A MemoryBackingFile that fails on request: the Nth write-or-sync call, or any write that
// would take the file beyond `space` bytes (that write stores what fits first, as a full
// file system's short write does, then fails).
class FaultyFile final : public BackingFile {
 public:
  explicit FaultyFile(std::vector<uint8_t> bytes) : inner_(std::move(bytes)) {}
  std::string_view describe() const override { return "(faulty)"; }
  uint64_t size() const override { return inner_.size(); }
  bool writable() const override { return true; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override { return inner_.read_at(offset, out); }
  Status write_at(uint64_t offset, std::span<const uint8_t> in) override {
    if (++calls == fail_call) return make_error("(faulty): injected I/O error");
    if (space && offset + in.size() > *space) {
      if (offset < *space) {
        if (auto status = inner_.write_at(offset, in.first(*space - offset)); !status) return status;
      }
      return make_error("(faulty): No space left on device");
    }
    return inner_.write_at(offset, in);
  }
  Status sync() override {
    if (++calls == fail_call) return make_error("(faulty): fdatasync: injected I/O error");
    return inner_.sync();
  }
  const std::vector<uint8_t>& bytes() const { return inner_.bytes(); }

  uint32_t calls = 0;      // write_at and sync calls so far
  uint32_t fail_call = 0;  // 1-based; 0 = never
  std::optional<uint64_t> space;

 private:
  MemoryBackingFile inner_;
};

struct Opened {
  std::unique_ptr<VhdImage> image;
  FaultyFile* file = nullptr;
};

Opened open_faulty(std::vector<uint8_t> bytes) {
  auto file = std::make_unique<FaultyFile>(std::move(bytes));
  FaultyFile* raw = file.get();
  auto image = VhdImage::open(std::move(file));
  if (!image) {
    ADD_FAILURE() << image.error().message;
    return {};
  }
  return {std::move(image).value(), raw};
}

std::vector<uint8_t> read_back(BlockImage& image, uint64_t offset, size_t length) {
  std::vector<uint8_t> out(length);
  auto status = image.read(offset, out);
  EXPECT_TRUE(status.ok()) << status.error().message;
  return out;
}

// An allocation is four calls: footer at the new end, bitmap + data, sync, BAT entry.
class AllocationStepFails : public ::testing::TestWithParam<uint32_t> {};

TEST_P(AllocationStepFails, TheFileStaysValidAndTheWriteCanBeRetried) {
  const uint32_t step = GetParam();
  auto [image, file] = open_faulty(make_image(kSize, false, kBlock));
  ASSERT_NE(image, nullptr);
  const auto first = pattern(4096, 1);
  ASSERT_TRUE(image->write(0, first).ok());  // block 0: acknowledged before the fault
  const auto second = pattern(4096, 2);

  file->fail_call = file->calls + step;
  ASSERT_FALSE(image->write(3 * kBlock, second).ok()) << "step " << step << " failed, so must the write";
  EXPECT_EQ(image->allocated_blocks(), 1u);
  EXPECT_EQ(read_back(*image, 3 * kBlock, 4096), std::vector<uint8_t>(4096, 0)) << "nothing of the failed write shows";

  auto reopened = testing::open_vhd(file->bytes());
  ASSERT_NE(reopened, nullptr) << "the file must still be a valid VHD after step " << step << " failed";
  EXPECT_EQ(reopened->allocated_blocks(), 1u);
  EXPECT_EQ(read_back(*reopened, 0, 4096), first);
  EXPECT_EQ(read_back(*reopened, 3 * kBlock, 4096), std::vector<uint8_t>(4096, 0));

  // The fault clears (space freed, the disk came back): the same write now succeeds.
  ASSERT_TRUE(image->write(3 * kBlock, second).ok());
  EXPECT_EQ(read_back(*image, 3 * kBlock, 4096), second);
  auto after_retry = testing::open_vhd(file->bytes());
  ASSERT_NE(after_retry, nullptr);
  EXPECT_EQ(after_retry->allocated_blocks(), 2u);
  EXPECT_EQ(read_back(*after_retry, 0, 4096), first);
  EXPECT_EQ(read_back(*after_retry, 3 * kBlock, 4096), second);
}

std::string step_name(const ::testing::TestParamInfo<uint32_t>& param) {
  static const char* const kNames[] = {"", "Footer", "BitmapAndData", "Sync", "BatEntry"};
  return kNames[param.param];
}

INSTANTIATE_TEST_SUITE_P(Steps, AllocationStepFails, ::testing::Values(1u, 2u, 3u, 4u), step_name);

// The file system fills up at every possible point of a sequence of 4 KiB writes (space
// limits a little apart, not page-aligned, so short writes land mid-structure too).
TEST(VhdWriteFailure, RunningOutOfSpaceAnywhereLosesNothingAcknowledged) {
  const auto fresh = make_image(kSize, false, kBlock);
  const uint64_t metadata = fresh.size();
  constexpr uint64_t kChunk = 4096;
  uint32_t limits_tried = 0;
  for (uint64_t space = metadata; space < metadata + 4 * (kBlock + 1024); space += 3 * 1024 + 7) {
    ++limits_tried;
    auto [image, file] = open_faulty(fresh);
    ASSERT_NE(image, nullptr);
    file->space = space;
    uint64_t acknowledged = 0;
    while (acknowledged * kChunk < kSize && image->write(acknowledged * kChunk, pattern(kChunk, uint8_t(acknowledged))).ok()) {
      ++acknowledged;
    }
    ASSERT_LT(acknowledged * kChunk, kSize) << "space " << space << " cannot hold the whole disk";
    auto reopened = testing::open_vhd(file->bytes());
    ASSERT_NE(reopened, nullptr) << "space " << space << ": the file is no longer a valid VHD";
    EXPECT_EQ(reopened->allocated_blocks(), image->allocated_blocks()) << "space " << space;
    for (uint64_t i = 0; i < acknowledged; ++i) {
      ASSERT_EQ(read_back(*reopened, i * kChunk, kChunk), pattern(kChunk, uint8_t(i)))
          << "space " << space << ": acknowledged chunk " << i << " lost";
    }
    // The refused chunk is not visible in the live image either.
    EXPECT_EQ(read_back(*image, acknowledged * kChunk, kChunk), read_back(*reopened, acknowledged * kChunk, kChunk))
        << "space " << space << ": the live image and the file disagree about the refused write";
  }
  EXPECT_GT(limits_tried, 80u);
}

// A sector bitmap update that fails must not stay set in the cached bitmap: the write was
// refused, so its sectors read as they do in the file (absent = zeros).
TEST(VhdWriteFailure, FailedBitmapUpdateIsNotVisibleInTheCache) {
  auto [writer, writer_file] = open_faulty(make_image(kSize, false, kBlock));
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->write(0, pattern(kBlock, 5)).ok());
  const uint64_t bitmap_at = uint64_t{writer->bat_entry(0)} * 512;
  std::vector<uint8_t> bytes = writer_file->bytes();
  bytes[bitmap_at + 1] = 0xBF;  // another tool's block: sector 9 absent

  auto [image, file] = open_faulty(bytes);
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(read_back(*image, 9 * 512, 512), std::vector<uint8_t>(512, 0));
  file->fail_call = file->calls + 2;  // the data write succeeds, the bitmap write fails
  ASSERT_FALSE(image->write(9 * 512, pattern(512, 40)).ok());
  EXPECT_EQ(file->bytes()[bitmap_at + 1], 0xBF);
  EXPECT_EQ(read_back(*image, 9 * 512, 512), std::vector<uint8_t>(512, 0))
      << "the refused write must not appear through the cached bitmap";
  // A later successful write elsewhere in the block does not publish sector 9 either.
  ASSERT_TRUE(image->write(20 * 512, pattern(512, 41)).ok());
  auto reopened = testing::open_vhd(file->bytes());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(read_back(*image, 9 * 512, 512), read_back(*reopened, 9 * 512, 512));
}

}  // namespace
}  // namespace kvpc
