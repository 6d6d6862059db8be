// The codec against the shared nasm vectors, byte for byte, and its bounds checks.
#include <gtest/gtest.h>

#include "integration/protocol.h"
#include "tests/unit/integration/test_vectors.h"

namespace kvpc::testing {
namespace {

using namespace proto;
using Bytes = std::vector<uint8_t>;

Bytes packet(uint16_t channel, uint16_t type, uint16_t flags, uint32_t txid, const Bytes& body, HRESULT status = S_OK) {
  return encode_packet(channel, make_header(type, flags, txid, static_cast<uint32_t>(body.size()), status), body);
}

TEST(ProtocolVectors, BlobHasAnIndexOfAlignedPackets) {
  auto vectors = all_vectors();
  ASSERT_EQ(vectors.size(), 28u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(v.bytes.size() % 8, 0u);
    EXPECT_GE(v.bytes.size(), 24u);
  }
}

TEST(ProtocolVectors, EncoderMatchesEveryWellFormedVector) {
  EXPECT_EQ(packet(0, kMsgHello, kFlagRequest, 1, encode(HelloRequest{1, 0x7F, "kvpc-agent"})), vec("hello_request"));
  EXPECT_EQ(packet(0, kMsgHello, kFlagResponse, 1, encode(HelloResponse{1, 4})), vec("hello_response"));
  EXPECT_EQ(packet(0, kMsgOffer, kFlagNotification, 0, encode(Offer{1, 1, 1, 1})), vec("offer_heartbeat"));
  EXPECT_EQ(packet(0, kMsgOffer, kFlagNotification, 0, encode(Offer{2, 2, 1, 1})), vec("offer_os_info"));
  EXPECT_EQ(packet(0, kMsgOffer, kFlagNotification, 0, encode(Offer{3, 3, 1, 1})), vec("offer_shutdown"));
  EXPECT_EQ(packet(0, kMsgOffer, kFlagNotification, 0, encode(Offer{4, 4, 1, 1})), vec("offer_time_sync"));
  EXPECT_EQ(packet(0, kMsgOpen, kFlagRequest, 2, encode(ChannelRef{3})), vec("open_shutdown_request"));
  EXPECT_EQ(packet(0, kMsgOpen, kFlagResponse, 2, encode(ChannelRef{3})), vec("open_shutdown_response"));
  EXPECT_EQ(packet(0, kMsgNegotiate, kFlagRequest, 3, encode(NegotiateRequest{3, 1, 1})),
            vec("negotiate_shutdown_request"));
  EXPECT_EQ(packet(0, kMsgNegotiate, kFlagResponse, 3, encode(NegotiateResponse{3, 1})),
            vec("negotiate_shutdown_response"));
  EXPECT_EQ(packet(3, kMsgSessions, kFlagRequest, 1, {}), vec("sessions_request"));
  EXPECT_EQ(packet(3, kMsgSessions, kFlagResponse, 1, encode_session_list({"alice", "bob"})), vec("sessions_response"));
  EXPECT_EQ(packet(1, kMsgBeat, kFlagRequest, 5, encode_u64(1)), vec("beat_request"));
  EXPECT_EQ(packet(1, kMsgBeat, kFlagResponse, 5, encode_u64(2)), vec("beat_response"));
  EXPECT_EQ(packet(2, kMsgOsInfoGet, kFlagRequest, 4, {}), vec("os_info_get_request"));
  EXPECT_EQ(packet(2, kMsgOsInfoGet, kFlagResponse, 4,
                   encode_key_values({{"ComputerName", "KVPC-GUEST"}, {"OSName", "kvpc test OS"}, {"OSMajorVersion", "1"}})),
            vec("os_info_get_response"));
  EXPECT_EQ(packet(3, kMsgLogoff, kFlagRequest, 7, encode_u32(0)), vec("logoff_request"));
  EXPECT_EQ(packet(3, kMsgLogoff, kFlagResponse, 7, encode(OperationAck{2})), vec("logoff_ack"));
  EXPECT_EQ(packet(3, kMsgProgress, kFlagNotification, 0, encode(Progress{7, 1, 2, "alice"})), vec("progress_alice"));
  EXPECT_EQ(packet(3, kMsgProgress, kFlagNotification, 0, encode(Progress{7, 2, 2, "bob"})), vec("progress_bob"));
  EXPECT_EQ(packet(3, kMsgComplete, kFlagNotification, 0, encode(Complete{7})), vec("complete_ok"));
  EXPECT_EQ(packet(3, kMsgComplete, kFlagNotification, 0, encode(Complete{7}), E_NO_SUCH_LOGON_SESSION),
            vec("complete_no_session"));
}

TEST(ProtocolVectors, DecodersReadTheVectors) {
  auto payload = [](const Bytes& p) { return std::span<const uint8_t>(p).subspan(kPacketHeaderSize); };
  Bytes hello = vec("hello_request");
  MessageHeader header;
  ASSERT_EQ(validate_payload(payload(hello).first(decode_packet_header(hello)->length), &header), PayloadCheck::kOk);
  EXPECT_EQ(header.type, kMsgHello);
  EXPECT_EQ(header.size, 40u);
  auto body = decode_hello_request(payload(hello).subspan(kMessageHeaderSize));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->agent_name, "kvpc-agent");
  EXPECT_EQ(body->features, 0x7Fu);

  Bytes progress = vec("progress_bob");
  auto p = decode_progress(payload(progress).subspan(kMessageHeaderSize, 44));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->request_transaction_id, 7u);
  EXPECT_EQ(p->done, 2u);
  EXPECT_EQ(p->session_name, "bob");
}

TEST(ProtocolVectors, MalformedVectorsAreRecognised) {
  auto check = [](const Bytes& p) {
    auto header = decode_packet_header(p);
    return validate_payload(std::span<const uint8_t>(p).subspan(kPacketHeaderSize, header->length), nullptr);
  };
  EXPECT_LT(decode_packet_header(vec("bad_length_short"))->length, kMinPayload);
  EXPECT_GT(decode_packet_header(vec("bad_length_long"))->length, kMaxPayload);
  EXPECT_EQ(check(vec("bad_size_mismatch")), PayloadCheck::kSizeMismatch);
  EXPECT_EQ(check(vec("bad_flags")), PayloadCheck::kMalformed);
  EXPECT_EQ(check(vec("bad_framework")), PayloadCheck::kMalformed);
  EXPECT_EQ(check(vec("unknown_channel_request")), PayloadCheck::kOk);
}

TEST(ProtocolCodec, DecodersRejectEveryTruncation) {
  Bytes hello = encode(HelloRequest{1, 2, "x"});
  for (size_t n = 0; n < hello.size(); ++n) EXPECT_FALSE(decode_hello_request(std::span(hello).first(n))) << n;
  Bytes progress = encode(Progress{1, 1, 1, "x"});
  for (size_t n = 0; n < progress.size(); ++n) EXPECT_FALSE(decode_progress(std::span(progress).first(n))) << n;
  Bytes header(23, 0);
  EXPECT_FALSE(decode_message_header(header));
  EXPECT_FALSE(decode_packet_header(std::span(header).first(7)));
}

TEST(ProtocolCodec, SessionListCountIsCheckedBeforeAllocation) {
  EXPECT_FALSE(decode_session_list(encode_u32(0xFFFFFFFF)));
  EXPECT_FALSE(decode_session_list(encode_u32(kMaxSessions + 1)));
  Bytes two = encode_session_list({"a", "b"});
  EXPECT_FALSE(decode_session_list(std::span(two).first(two.size() - 1)));
  EXPECT_EQ(*decode_session_list(two), (std::vector<std::string>{"a", "b"}));
  std::vector<std::string> many(500, "user");
  EXPECT_EQ(decode_session_list(encode_session_list(many))->size(), kMaxSessions);
}

TEST(ProtocolCodec, FixedStringsStopAtNulAndNeutraliseControlBytes) {
  Bytes field = {'a', 0x1B, '[', '2', 'J', 0, 'x', 'y'};
  ByteReader reader(field);
  EXPECT_EQ(*reader.fixed_string(8), "a?[2J");
  EXPECT_EQ(reader.remaining(), 0u);
  Bytes long_name = ByteWriter().fixed_string(std::string(40, 'n'), 32).take();
  ASSERT_EQ(long_name.size(), 32u);
  EXPECT_EQ(long_name[31], 0);
}

TEST(ProtocolCodec, KeyValuesAreCappedAndValidated) {
  Bytes body;
  auto add = [&](std::string s) {
    body.insert(body.end(), s.begin(), s.end());
    body.push_back(0);
  };
  add("ComputerName=PC");
  add("noequals");
  add("=novalue-key");
  add(std::string(100, 'k') + "=v");
  add("Big=" + std::string(300, 'v'));
  add("");
  add("OSName=Linux");
  body.push_back('X');  // unterminated tail
  auto parsed = decode_key_values(body);
  ASSERT_EQ(parsed.pairs.size(), 2u);
  EXPECT_EQ(parsed.pairs[0].first, "ComputerName");
  EXPECT_EQ(parsed.pairs[1].second, "Linux");
  EXPECT_EQ(parsed.rejected, 5u);

  Bytes flood;
  for (int i = 0; i < 200; ++i) {
    std::string s = "k" + std::to_string(i) + "=v";
    flood.insert(flood.end(), s.begin(), s.end());
    flood.push_back(0);
  }
  EXPECT_EQ(decode_key_values(flood).pairs.size(), kMaxKeyValuePairs);
}

TEST(ProtocolCodec, EncodePacketRefusesOversizedBodies) {
  Bytes big(kMaxBody + 1, 0);
  EXPECT_TRUE(encode_packet(3, make_header(1, kFlagRequest, 1, static_cast<uint32_t>(big.size())), big).empty());
  Bytes max(kMaxBody, 0);
  EXPECT_EQ(encode_packet(3, make_header(1, kFlagRequest, 1, kMaxBody), max).size(), kMaxPacket);
}

}  // namespace
}  // namespace kvpc::testing
