// The ring transport on its own: mapping, wrap-around, validation.
#include <gtest/gtest.h>

#include "integration/ring.h"
#include "tests/unit/integration/fake_guest.h"

namespace kvpc::testing {
namespace {

using namespace proto;

TEST(Ring, MapSplitsHeaderTxRx) {
  GuestMemory memory = make_memory();
  auto area = RingArea::map(memory, 0x10000, 8);
  ASSERT_TRUE(area);
  EXPECT_EQ(area->header.size(), 4096u);
  EXPECT_EQ(area->tx_data.size(), 3u * 4096);
  EXPECT_EQ(area->rx_data.size(), 4u * 4096);
  EXPECT_EQ(area->tx_data.data(), area->header.data() + 4096);
}

TEST(Ring, MapRejectsRom) {
  GuestMemory memory = make_memory();
  ASSERT_TRUE(memory.add_region("rom", 0xFFF00000, 0x10000, true));
  EXPECT_FALSE(RingArea::map(memory, 0xFFF00000, 4));
}

TEST(Ring, CopiesWrapAroundTheDataArea) {
  std::vector<uint8_t> data(16, 0);
  std::vector<uint8_t> in = {1, 2, 3, 4, 5, 6};
  copy_to_ring(data, 16 * 1000 + 13, in);
  EXPECT_EQ(data[13], 1);
  EXPECT_EQ(data[15], 3);
  EXPECT_EQ(data[0], 4);
  EXPECT_EQ(data[2], 6);
  std::vector<uint8_t> out(6);
  copy_from_ring(data, 13, out);
  EXPECT_EQ(out, in);
}

TEST(Ring, PacketsThatWrapAreReadWhole) {
  GuestMemory memory = make_memory();
  auto area = *RingArea::map(memory, 0x10000, 3);
  uint32_t start = 4096 - 16;  // the packet straddles the end of the 4 KiB TX area
  auto packet = encode_packet(3, make_header(1, kFlagRequest, 9, 40), std::vector<uint8_t>(40, 0xAB));
  copy_to_ring(area.tx_data, start, packet);
  store_index(area.header, kTxWriteOffset, start + static_cast<uint32_t>(packet.size()));
  TxRingReader reader(area, start);
  TxRingReader::Packet out;
  ASSERT_EQ(reader.next(&out), TxRingReader::Outcome::kPacket);
  EXPECT_EQ(out.header.channel, 3);
  EXPECT_EQ(out.payload.size(), 64u);
  EXPECT_EQ(out.payload.back(), 0xAB);
  EXPECT_EQ(reader.next(&out), TxRingReader::Outcome::kEmpty);
  reader.publish();
  EXPECT_EQ(load_index(area.header, kTxReadOffset), start + packet.size());
}

TEST(Ring, TxIndicesTooFarApartAreDiscarded) {
  GuestMemory memory = make_memory();
  auto area = *RingArea::map(memory, 0x10000, 3);
  store_index(area.header, kTxWriteOffset, 4096 + 8);
  TxRingReader reader(area, 0);
  TxRingReader::Packet out;
  EXPECT_EQ(reader.next(&out), TxRingReader::Outcome::kBadIndices);
  EXPECT_EQ(reader.read_index(), 4096u + 8);
  EXPECT_EQ(reader.next(&out), TxRingReader::Outcome::kEmpty);
}

TEST(Ring, RxFullKeepsThePacketBack) {
  GuestMemory memory = make_memory();
  auto area = *RingArea::map(memory, 0x10000, 3);
  RxRingWriter writer(area, 0);
  std::vector<uint8_t> packet(1024, 0);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(writer.write(packet), RxRingWriter::Outcome::kWritten);
  EXPECT_EQ(writer.write(packet), RxRingWriter::Outcome::kFull);
  store_index(area.header, kRxReadOffset, 1024);
  EXPECT_EQ(writer.write(packet), RxRingWriter::Outcome::kWritten);
  store_index(area.header, kRxReadOffset, 0xFFFF0000);  // hostile rx_read
  EXPECT_EQ(writer.write(packet), RxRingWriter::Outcome::kBadIndices);
}

}  // namespace
}  // namespace kvpc::testing
