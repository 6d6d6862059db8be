#include "vmm/debug/rsp_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace kvpc::gdb {
namespace {

using Kind = RspDecoder::Kind;

std::vector<RspDecoder::Event> decode(RspDecoder& d, std::string_view bytes) {
  std::vector<RspDecoder::Event> out;
  d.feed(bytes, out);
  return out;
}

TEST(RspCodec, WellFormedPacketIsDecoded) {
  RspDecoder d;
  auto events = decode(d, "$qSupported#37");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kPacket);
  EXPECT_EQ(events[0].payload, "qSupported");
}

TEST(RspCodec, BadChecksumIsReportedNotDelivered) {
  RspDecoder d;
  auto events = decode(d, "$g#68");  // 'g' sums to 0x67
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kBadChecksum);
  events = decode(d, "$g#zz");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kBadChecksum);
  events = decode(d, "$g#67");  // and the decoder recovers
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "g");
}

TEST(RspCodec, PacketSplitAcrossReadsIsReassembled) {
  RspDecoder d;
  EXPECT_TRUE(decode(d, "$m10006").empty());
  EXPECT_TRUE(decode(d, "8,8#").empty());
  auto events = decode(d, "00");  // 'm100068,8' happens to sum to 0x100
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kPacket);
  EXPECT_EQ(events[0].payload, "m100068,8");
}

TEST(RspCodec, AcksNaksAndInterruptBetweenPackets) {
  RspDecoder d;
  auto events = decode(d, std::string_view("+-\x03", 3));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, Kind::kAck);
  EXPECT_EQ(events[1].kind, Kind::kNak);
  EXPECT_EQ(events[2].kind, Kind::kInterrupt);
}

TEST(RspCodec, EscapesRoundTripAndCountTowardsTheChecksumAsSent) {
  std::string payload = "a#b$c}d*e";
  std::string framed = rsp_frame(payload);
  EXPECT_EQ(framed.find('#'), framed.size() - 3) << "no raw '#' inside the payload: " << framed;
  RspDecoder d;
  auto events = decode(d, framed);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kPacket);
  EXPECT_EQ(events[0].payload, payload);
}

TEST(RspCodec, OversizedPacketIsDroppedWithBoundedMemory) {
  RspDecoder d;
  std::string huge = "$" + std::string(kMaxPacketPayload * 4, 'x') + "#00";
  auto events = decode(d, huge);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kOverflow);
  events = decode(d, rsp_frame("?"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "?");
}

TEST(RspCodec, NewDollarRestartsAnUnfinishedPacket) {
  RspDecoder d;
  auto events = decode(d, "$abc$g#67");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "g");
}

TEST(RspCodec, RandomGarbageNeverCrashesAndLeavesTheDecoderUsable) {
  std::mt19937 rng(1234);
  RspDecoder d;
  std::vector<RspDecoder::Event> events;
  for (int round = 0; round < 2000; ++round) {
    std::string noise(static_cast<size_t>(rng() % 300), '\0');
    for (char& c : noise) c = static_cast<char>(rng() % 256);
    d.feed(noise, events);
    events.clear();
  }
  d.feed(std::string_view("#00"), events);  // finish whatever packet the noise left open
  events.clear();
  d.feed(rsp_frame("qC"), events);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, Kind::kPacket);
  EXPECT_EQ(events.back().payload, "qC");
}

TEST(RspCodec, HexHelpers) {
  EXPECT_EQ(parse_hex_number("7fff0010"), 0x7fff0010u);
  EXPECT_EQ(parse_hex_number("FFFF800000000000"), 0xFFFF800000000000ull);
  EXPECT_FALSE(parse_hex_number(""));
  EXPECT_FALSE(parse_hex_number("12345678901234567"));  // 17 digits
  EXPECT_FALSE(parse_hex_number("12g"));
  auto bytes = parse_hex_bytes("00ff7A");
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, (std::vector<uint8_t>{0x00, 0xFF, 0x7A}));
  EXPECT_FALSE(parse_hex_bytes("abc"));
  EXPECT_FALSE(parse_hex_bytes("zz"));
  EXPECT_EQ(to_hex(std::string_view("vCPU 0")), "764350552030");
}

}  // namespace
}  // namespace kvpc::gdb
