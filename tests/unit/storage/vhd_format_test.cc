// The VHD structures on their own: checksums, field layout, geometry.
#include <gtest/gtest.h>

#include "storage/vhd_format.h"
#include "tests/unit/storage/vhd_test_images.h"

namespace kvpc {
namespace {

TEST(VhdFormat, ChecksumIsOnesComplementOfByteSumSkippingTheField) {
  std::vector<uint8_t> bytes(16, 0);
  bytes[0] = 1;
  bytes[1] = 2;
  bytes[4] = 0xFF;  // inside the skipped checksum field
  EXPECT_EQ(vhd::checksum(bytes, 4), ~uint32_t{3});
}

TEST(VhdFormat, FooterRoundTripsEveryFieldBigEndian) {
  vhd::Footer footer;
  footer.data_offset = 512;
  footer.timestamp = 0x11223344;
  footer.original_size = 0x0102030405060708ULL;
  footer.current_size = 64ULL << 20;
  footer.geometry = {963, 8, 17};
  footer.disk_type = 3;
  footer.unique_id[0] = 0xAB;
  footer.unique_id[15] = 0xCD;
  auto bytes = vhd::serialize_footer(footer);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), 8), "conectix");
  EXPECT_EQ(bytes[40], 0x01);  // original size, most significant byte first
  EXPECT_EQ(bytes[47], 0x08);
  EXPECT_EQ(bytes[56], 963 >> 8);
  EXPECT_EQ(bytes[57], 963 & 0xFF);
  auto parsed = vhd::parse_footer(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->data_offset, 512u);
  EXPECT_EQ(parsed->timestamp, 0x11223344u);
  EXPECT_EQ(parsed->original_size, 0x0102030405060708ULL);
  EXPECT_EQ(parsed->current_size, 64ULL << 20);
  EXPECT_EQ(parsed->geometry, (vhd::Geometry{963, 8, 17}));
  EXPECT_EQ(parsed->disk_type, 3u);
  EXPECT_EQ(parsed->unique_id, footer.unique_id);
}

TEST(VhdFormat, DynamicHeaderRoundTrips) {
  vhd::DynamicHeader header;
  header.table_offset = 1536;
  header.max_table_entries = 32;
  header.block_size = 1 << 16;
  auto bytes = vhd::serialize_dynamic_header(header);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), 8), "cxsparse");
  auto parsed = vhd::parse_dynamic_header(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->table_offset, 1536u);
  EXPECT_EQ(parsed->max_table_entries, 32u);
  EXPECT_EQ(parsed->block_size, 1u << 16);
  EXPECT_EQ(parsed->data_offset, vhd::kNoDataOffset);
}

TEST(VhdFormat, GeometryFollowsTheSpecificationAlgorithm) {
  // Small disks use 17 sectors per track and at least 4 heads.
  EXPECT_EQ(vhd::geometry_for_sectors(20480), (vhd::Geometry{301, 4, 17}));  // 10 MiB
  // 64 MiB: 17 sectors, 8 heads.
  EXPECT_EQ(vhd::geometry_for_sectors(131072), (vhd::Geometry{963, 8, 17}));
  // 1 GiB needs 63 sectors per track and 16 heads.
  EXPECT_EQ(vhd::geometry_for_sectors(2097152), (vhd::Geometry{2080, 16, 63}));
  // Beyond the CHS limit the geometry saturates.
  EXPECT_EQ(vhd::geometry_for_sectors(vhd::kMaxGeometrySectors * 2), (vhd::Geometry{65535, 16, 255}));
}

TEST(VhdFormat, SizesRoundUpToAWholeGeometry) {
  uint64_t size = vhd::round_up_to_geometry(64ULL << 20);
  EXPECT_GE(size, 64ULL << 20);
  EXPECT_EQ(vhd::geometry_for_sectors(size / 512).total_sectors() * 512, size);
  EXPECT_LT(size - (64ULL << 20), 8ULL * 17 * 512 * 2);  // less than two cylinders more
  // A size that already is a geometry stays.
  EXPECT_EQ(vhd::round_up_to_geometry(301ULL * 4 * 17 * 512), 301ULL * 4 * 17 * 512);
}

TEST(VhdFormat, BitmapIsPaddedToWholeSectors) {
  EXPECT_EQ(vhd::bitmap_bytes(2u << 20), 512u);   // 4096 sectors -> 512 bytes
  EXPECT_EQ(vhd::bitmap_bytes(4096), 512u);       // 8 sectors -> 1 byte, padded
  EXPECT_EQ(vhd::bitmap_bytes(8u << 20), 2048u);  // 16384 sectors
}

TEST(VhdFormat, ShortBuffersAreErrorsNotReads) {
  std::vector<uint8_t> small(100, 0);
  EXPECT_FALSE(vhd::parse_footer(small).ok());
  EXPECT_FALSE(vhd::parse_dynamic_header(small).ok());
}

}  // namespace
}  // namespace kvpc
