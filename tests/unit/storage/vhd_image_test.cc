// VhdImage on images built in memory: reading, allocation on write, the footer move, the
// crash ordering of an allocation, and a clear error for every kind of corrupt image.
#include <gtest/gtest.h>

#include "storage/block_image.h"
#include "storage/raw_image.h"
#include "tests/unit/storage/vhd_test_images.h"

namespace kvpc {
namespace {

using testing::fix_checksum;
using testing::get_be;
using testing::make_image;
using testing::pattern;
using testing::put_be;
using testing::trailing_footer;

constexpr uint64_t kSize = 8ULL << 20;
constexpr uint32_t kBlock = 64 * 1024;

// A BackingFile that records every write and sync, in order.
class RecordingFile final : public BackingFile {
 public:
  explicit RecordingFile(std::vector<uint8_t> bytes) : inner_(std::move(bytes)) {}
  std::string_view describe() const override { return "(recording)"; }
  uint64_t size() const override { return inner_.size(); }
  bool writable() const override { return true; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override { return inner_.read_at(offset, out); }
  Status write_at(uint64_t offset, std::span<const uint8_t> in) override {
    log.push_back(fmt_write(offset, in.size()));
    return inner_.write_at(offset, in);
  }
  Status sync() override {
    log.push_back("sync");
    return inner_.sync();
  }
  static std::string fmt_write(uint64_t offset, size_t length) {
    return "write " + std::to_string(offset) + "+" + std::to_string(length);
  }
  std::vector<std::string> log;
  const std::vector<uint8_t>& bytes() const { return inner_.bytes(); }

 private:
  MemoryBackingFile inner_;
};

TEST(VhdImage, NewDynamicImageReadsZerosAndHasNoBlocks) {
  auto image = testing::open_vhd(make_image(kSize, false, kBlock));
  ASSERT_NE(image, nullptr);
  EXPECT_TRUE(image->dynamic());
  EXPECT_EQ(image->format_name(), "vhd-dynamic");
  EXPECT_GE(image->size_bytes(), kSize);
  EXPECT_EQ(image->allocated_blocks(), 0u);
  std::vector<uint8_t> out(4096, 0xAA);
  ASSERT_TRUE(image->read(kBlock * 3, out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(4096, 0));
}

TEST(VhdImage, WriteAllocatesABlockAndReadsBack) {
  auto image = testing::open_vhd(make_image(kSize, false, kBlock));
  ASSERT_NE(image, nullptr);
  auto data = pattern(1024, 3);
  ASSERT_TRUE(image->write(kBlock * 5 + 512, data).ok());
  EXPECT_EQ(image->allocated_blocks(), 1u);
  EXPECT_NE(image->bat_entry(5), vhd::kUnallocated);
  std::vector<uint8_t> out(3 * 512);
  ASSERT_TRUE(image->read(kBlock * 5, out).ok());
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 512), std::vector<uint8_t>(512, 0));
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 512, out.end()), data);
  // A second write into the same block allocates nothing.
  ASSERT_TRUE(image->write(kBlock * 5 + 8192, pattern(512, 9)).ok());
  EXPECT_EQ(image->allocated_blocks(), 1u);
}

TEST(VhdImage, WriteSpanningBlocksAllocatesEachAndReadsBack) {
  auto image = testing::open_vhd(make_image(kSize, false, kBlock));
  ASSERT_NE(image, nullptr);
  auto data = pattern(kBlock + 2048, 11);
  ASSERT_TRUE(image->write(kBlock - 1024, data).ok());
  EXPECT_EQ(image->allocated_blocks(), 3u);  // blocks 0, 1 and 2
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE(image->read(kBlock - 1024, out).ok());
  EXPECT_EQ(out, data);
}

TEST(VhdImage, AllocationWritesFooterFirstThenDataThenSyncsThenBat) {
  auto bytes = make_image(kSize, false, kBlock);
  const uint64_t old_footer = trailing_footer(bytes);
  auto file = std::make_unique<RecordingFile>(bytes);
  RecordingFile* recording = file.get();
  auto opened = VhdImage::open(std::move(file));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto& image = *opened.value();
  ASSERT_TRUE(image.write(kBlock * 2, pattern(512, 1)).ok());
  const uint64_t block_bytes = 512 + kBlock;  // bitmap + data
  const uint64_t bat_entry_offset = 1536 + 2 * 4;
  std::vector<std::string> expected = {
      RecordingFile::fmt_write(old_footer + block_bytes, 512),  // 1. footer at the new end
      RecordingFile::fmt_write(old_footer, block_bytes),        // 2. bitmap + data over the old footer
      "sync",                                                    // 3. durable before it is referenced
      RecordingFile::fmt_write(bat_entry_offset, 4),             // 4. the BAT entry
  };
  EXPECT_EQ(recording->log, expected);
  // The file ends in the footer, identical to the copy at offset 0; the BAT points at the block.
  const auto& after = recording->bytes();
  ASSERT_EQ(after.size(), old_footer + block_bytes + 512);
  EXPECT_TRUE(std::equal(after.begin(), after.begin() + 512, after.end() - 512));
  EXPECT_EQ(get_be(after, bat_entry_offset, 4), old_footer / 512);
  // The bitmap marks every sector present.
  EXPECT_EQ(after[old_footer], 0xFF);
}

TEST(VhdImage, ReopenedImageReadsWhatWasWritten) {
  auto image = testing::open_vhd(make_image(kSize, false, kBlock));
  ASSERT_NE(image, nullptr);
  // Keep the bytes by writing through a MemoryBackingFile we can look at afterwards.
  auto file = std::make_unique<MemoryBackingFile>(make_image(kSize, false, kBlock));
  MemoryBackingFile* memory = file.get();
  auto opened = VhdImage::open(std::move(file));
  ASSERT_TRUE(opened.ok());
  auto data = pattern(4096, 77);
  ASSERT_TRUE(opened.value()->write(kSize - 4096, data).ok());
  ASSERT_TRUE(opened.value()->write(0, data).ok());
  auto reopened = testing::open_vhd(memory->bytes());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->allocated_blocks(), 2u);
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(reopened->read(kSize - 4096, out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(reopened->read(0, out).ok());
  EXPECT_EQ(out, data);
}

TEST(VhdImage, SectorsWhoseBitmapBitIsClearReadAsZerosAndWritingSetsTheBit) {
  auto file = std::make_unique<MemoryBackingFile>(make_image(kSize, false, kBlock));
  MemoryBackingFile* memory = file.get();
  auto opened = VhdImage::open(std::move(file));
  ASSERT_TRUE(opened.ok());
  ASSERT_TRUE(opened.value()->write(0, pattern(kBlock, 5)).ok());
  const uint64_t bitmap_at = uint64_t{opened.value()->bat_entry(0)} * 512;
  // Another tool's sparse block: sectors 0-7 (byte 0) and 9 marked absent, data left behind.
  std::vector<uint8_t> bytes = memory->bytes();
  bytes[bitmap_at] = 0x00;
  bytes[bitmap_at + 1] = 0xBF;  // sector 8 present, sector 9 absent
  auto file2 = std::make_unique<MemoryBackingFile>(bytes);
  MemoryBackingFile* memory2 = file2.get();
  auto image = VhdImage::open(std::move(file2));
  ASSERT_TRUE(image.ok());
  std::vector<uint8_t> out(11 * 512);
  ASSERT_TRUE(image.value()->read(0, out).ok());
  auto expected = pattern(kBlock, 5);
  for (size_t sector = 0; sector < 11; ++sector) {
    bool present = sector == 8 || sector == 10;
    for (size_t i = 0; i < 512; ++i) {
      ASSERT_EQ(out[sector * 512 + i], present ? expected[sector * 512 + i] : 0) << "sector " << sector;
    }
  }
  // Writing sector 9 makes it present (in the file too).
  ASSERT_TRUE(image.value()->write(9 * 512, pattern(512, 40)).ok());
  EXPECT_EQ(memory2->bytes()[bitmap_at + 1], 0xFF);
  std::vector<uint8_t> sector9(512);
  ASSERT_TRUE(image.value()->read(9 * 512, sector9).ok());
  EXPECT_EQ(sector9, pattern(512, 40));
}

TEST(VhdImage, FixedImageIsDataThenFooter) {
  auto file = std::make_unique<MemoryBackingFile>(make_image(kSize, true));
  MemoryBackingFile* memory = file.get();
  auto opened = VhdImage::open(std::move(file));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto& image = *opened.value();
  EXPECT_EQ(image.format_name(), "vhd-fixed");
  EXPECT_EQ(memory->bytes().size(), image.size_bytes() + 512);
  auto data = pattern(2048, 8);
  ASSERT_TRUE(image.write(4096, data).ok());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), memory->bytes().begin() + 4096));
  EXPECT_EQ(memory->bytes().size(), image.size_bytes() + 512);  // the footer did not move
}

TEST(VhdImage, ReadOnlyImageRefusesWritesAndTransfersMustBeWholeSectorsInside) {
  auto image = testing::open_vhd(make_image(kSize, false, kBlock), /*read_only=*/true);
  ASSERT_NE(image, nullptr);
  EXPECT_TRUE(image->read_only());
  EXPECT_FALSE(image->write(0, pattern(512, 1)).ok());
  std::vector<uint8_t> out(512);
  EXPECT_FALSE(image->read(100, out).ok());                     // not sector aligned
  EXPECT_FALSE(image->read(image->size_bytes(), out).ok());     // past the end
  std::vector<uint8_t> odd(100);
  EXPECT_FALSE(image->read(0, odd).ok());
}

TEST(BlockImage, AutoFormatPicksVhdByFooterAndRawOtherwise) {
  auto vhd_image = open_block_image(std::make_unique<MemoryBackingFile>(make_image(kSize, false)), ImageFormat::kAuto);
  ASSERT_TRUE(vhd_image.ok()) << vhd_image.error().message;
  EXPECT_EQ(vhd_image.value()->format_name(), "vhd-dynamic");
  auto raw = open_block_image(std::make_unique<MemoryBackingFile>(std::vector<uint8_t>(4096, 1)), ImageFormat::kAuto);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.value()->format_name(), "raw");
  EXPECT_EQ(raw.value()->size_bytes(), 4096u);
  // Forcing raw on a VHD serves the file's bytes as they are.
  auto forced = open_block_image(std::make_unique<MemoryBackingFile>(make_image(kSize, true)), ImageFormat::kRaw);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced.value()->format_name(), "raw");
}

TEST(RawImage, WritesLandAtTheSameOffsetInTheFile) {
  auto file = std::make_unique<MemoryBackingFile>(std::vector<uint8_t>(8192, 0));
  MemoryBackingFile* memory = file.get();
  auto image = RawImage::open(std::move(file));
  ASSERT_TRUE(image.ok());
  auto data = pattern(1024, 2);
  ASSERT_TRUE(image.value()->write(2048, data).ok());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), memory->bytes().begin() + 2048));
  EXPECT_FALSE(image.value()->write(8192, data).ok());
  EXPECT_FALSE(RawImage::open(std::make_unique<MemoryBackingFile>(std::vector<uint8_t>(100))).ok());
}

// --- corrupt and unsupported images -----------------------------------------------------------

struct CorruptCase {
  const char* name;
  bool fixed;
  void (*damage)(std::vector<uint8_t>&);
  const char* expected;  // a substring of the error
};

constexpr size_t kFooterChecksum = 64;
constexpr size_t kHeaderAt = 512;
constexpr size_t kHeaderChecksum = 36;

void refooter(std::vector<uint8_t>& b) {
  fix_checksum(b, trailing_footer(b), 512, kFooterChecksum);
}
void reheader(std::vector<uint8_t>& b) { fix_checksum(b, kHeaderAt, 1024, kHeaderChecksum); }

const CorruptCase kCorruptCases[] = {
    {"BadCookie", false, [](std::vector<uint8_t>& b) { b[trailing_footer(b)] = 'X'; }, "cookie is not \"conectix\""},
    {"FooterChecksum", false, [](std::vector<uint8_t>& b) { b[trailing_footer(b) + 100] ^= 1; }, "VHD footer: checksum"},
    {"Differencing", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, trailing_footer(b) + 60, 4, 4);
       refooter(b);
     },
     "differencing disk) is not supported yet"},
    {"UnknownDiskType", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, trailing_footer(b) + 60, 4, 7);
       refooter(b);
     },
     "disk type 7"},
    {"SizeNotSectors", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, trailing_footer(b) + 48, 8, 1000);
       refooter(b);
     },
     "current size 1000"},
    {"FormatVersion", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, trailing_footer(b) + 12, 4, 0x00020000);
       refooter(b);
     },
     "file format version"},
    {"FixedSizeBeyondFile", true,
     [](std::vector<uint8_t>& b) {
       put_be(b, trailing_footer(b) + 48, 8, 1ULL << 40);
       refooter(b);
     },
     "is beyond the file"},
    {"DataOffsetBeyondFile", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, trailing_footer(b) + 16, 8, 1ULL << 40);
       refooter(b);
     },
     "data offset"},
    {"HeaderCookie", false, [](std::vector<uint8_t>& b) { b[kHeaderAt] = 'Y'; }, "cookie is not \"cxsparse\""},
    {"HeaderChecksum", false, [](std::vector<uint8_t>& b) { b[kHeaderAt + 200] ^= 1; }, "VHD dynamic header: checksum"},
    {"BlockSizeNotPowerOfTwo", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, kHeaderAt + 32, 4, 3u << 20);
       reheader(b);
     },
     "block size 3145728 is not a power of two"},
    {"TableBeyondFile", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, kHeaderAt + 16, 8, 1ULL << 40);
       reheader(b);
     },
     "table offset"},
    {"TooFewTableEntries", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, kHeaderAt + 28, 4, 1);
       reheader(b);
     },
     "max table entries 1 cover less"},
    {"HugeTable", false,
     [](std::vector<uint8_t>& b) {
       put_be(b, kHeaderAt + 28, 4, 0x7FFFFFFF);
       reheader(b);
     },
     "exceeds kvpc's limit"},
    {"BatEntryBeyondFile", false, [](std::vector<uint8_t>& b) { put_be(b, 1536 + 4 * 3, 4, 0x00100000); },
     "VHD BAT: entry 3"},
    {"BatEntryOnTheHeader", false, [](std::vector<uint8_t>& b) { put_be(b, 1536, 4, 1); }, "VHD BAT: entry 0"},
    {"TruncatedToLessThanAFooter", false, [](std::vector<uint8_t>& b) { b.resize(300); }, "smaller than the 512-byte footer"},
};

class CorruptVhd : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptVhd, IsRefusedWithAnErrorNamingTheField) {
  const CorruptCase& c = GetParam();
  auto bytes = make_image(kSize, c.fixed);
  ASSERT_FALSE(bytes.empty());
  c.damage(bytes);
  auto opened = VhdImage::open(std::make_unique<MemoryBackingFile>(bytes));
  ASSERT_FALSE(opened.ok()) << "opened a damaged image (" << c.name << ")";
  EXPECT_NE(opened.error().message.find(c.expected), std::string::npos) << opened.error().message;
}

INSTANTIATE_TEST_SUITE_P(Table, CorruptVhd, ::testing::ValuesIn(kCorruptCases),
                         [](const ::testing::TestParamInfo<CorruptCase>& param_info) { return param_info.param.name; });

// Two BAT entries whose blocks overlap (the same block, or one starting inside the other) would
// make a write through one change the other's sectors; found by the vhd fuzz target.
TEST(CorruptVhd, BatEntriesWhoseBlocksOverlapAreRefused) {
  auto file = std::make_unique<MemoryBackingFile>(make_image(kSize, false, kBlock));
  MemoryBackingFile* memory = file.get();
  auto opened = VhdImage::open(std::move(file));
  ASSERT_TRUE(opened.ok());
  ASSERT_TRUE(opened.value()->write(0, pattern(4096, 1)).ok());       // block 0
  ASSERT_TRUE(opened.value()->write(kBlock, pattern(4096, 2)).ok());  // block 1
  const size_t bat = 1536;  // make_image's table offset
  const uint64_t first = get_be(memory->bytes(), bat, 4);
  const uint64_t second = get_be(memory->bytes(), bat + 4, 4);
  ASSERT_NE(first, second);
  ASSERT_NE(testing::open_vhd(memory->bytes()), nullptr) << "the undamaged two-block image must open";

  for (uint64_t alias : {first, first + 1, first + kBlock / 512}) {  // same start, inside, inside the data
    auto bytes = memory->bytes();
    put_be(bytes, bat + 4, 4, alias);
    auto damaged = VhdImage::open(std::make_unique<MemoryBackingFile>(bytes));
    ASSERT_FALSE(damaged.ok()) << "opened BAT entry 1 = " << alias << " with entry 0 = " << first;
    EXPECT_NE(damaged.error().message.find("entries 0 and 1 point at overlapping blocks"), std::string::npos)
        << damaged.error().message;
  }
}

TEST(CorruptVhd, AnUndamagedImageOfEachKindOpens) {
  EXPECT_NE(testing::open_vhd(make_image(kSize, false)), nullptr);
  EXPECT_NE(testing::open_vhd(make_image(kSize, true)), nullptr);
}

}  // namespace
}  // namespace kvpc
