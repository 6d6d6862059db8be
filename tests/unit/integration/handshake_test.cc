// HELLO / OFFER / OPEN / NEGOTIATE through the device, byte-exact against the shared vectors,
// and the channel state machine's refusals.
#include <gtest/gtest.h>

#include "tests/unit/integration/fake_guest.h"
#include "tests/unit/integration/test_vectors.h"

namespace kvpc::testing {
namespace {

using namespace proto;

TEST(Handshake, HostAnswersTheVectorsByteForByte) {
  TestRig rig;
  ASSERT_TRUE(rig.guest.attach());
  ASSERT_TRUE(rig.guest.send_raw(vec("hello_request")));
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_TRUE(rig.irq.level());
  auto packets = rig.guest.receive_raw();
  EXPECT_EQ(rig.guest.last_isr(), kIsrRx);
  EXPECT_FALSE(rig.irq.level());  // reading ISR deasserts
  ASSERT_EQ(packets.size(), 5u);
  EXPECT_EQ(packets[0], vec("hello_response"));
  EXPECT_EQ(packets[1], vec("offer_heartbeat"));
  EXPECT_EQ(packets[2], vec("offer_os_info"));
  EXPECT_EQ(packets[3], vec("offer_shutdown"));
  EXPECT_EQ(packets[4], vec("offer_time_sync"));

  ASSERT_TRUE(rig.guest.send_raw(vec("open_shutdown_request")));
  rig.guest.doorbell();
  rig.services.process();
  packets = rig.guest.receive_raw();
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0], vec("open_shutdown_response"));

  ASSERT_TRUE(rig.guest.send_raw(vec("negotiate_shutdown_request")));
  rig.guest.doorbell();
  rig.services.process();
  packets = rig.guest.receive_raw();
  ASSERT_EQ(packets.size(), 2u);
  EXPECT_EQ(packets[0], vec("negotiate_shutdown_response"));
  EXPECT_EQ(packets[1], vec("sessions_request"));  // the agent has 0x40: the host asks (its txid 1)
  EXPECT_TRUE(rig.services.channel_ready(kServiceShutdown));
  EXPECT_EQ(rig.services.agent_name(), "kvpc-agent");
  EXPECT_EQ(rig.services.agent_features(), 0x7Fu);

  ASSERT_TRUE(rig.guest.send_raw(vec("sessions_response")));
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(rig.services.sessions(), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(rig.guest.read_reg(kRegErrorCount), 0u);
}

TEST(Handshake, LogoffVectorsDriveTheObserver) {
  TestRig rig;
  ASSERT_TRUE(rig.guest.attach());
  for (auto name : {"hello_request", "open_shutdown_request", "negotiate_shutdown_request"}) {
    ASSERT_TRUE(rig.guest.send_raw(vec(name)));
  }
  rig.guest.doorbell();
  rig.services.process();
  rig.guest.receive_raw();
  // Host txids so far: 1 (SESSIONS). Make the LOGOFF the vectors' txid 7.
  for (int i = 0; i < 5; ++i) rig.services.heartbeat_tick();  // no heartbeat channel: no txids used
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  auto packets = rig.guest.receive_raw();
  ASSERT_EQ(packets.size(), 1u);
  auto request = FakeGuest::decode(packets[0]);
  // Same bytes as the vector except the host's transaction id.
  auto expected = vec("logoff_request");
  uint32_t txid = request.header.transaction_id;
  std::memcpy(expected.data() + kPacketHeaderSize + kHeaderTransactionOffset, &txid, 4);
  EXPECT_EQ(packets[0], expected);
  ASSERT_EQ(txid, 2u);
  // Rewrite the guest's vectors to this txid and send them.
  for (auto name : {"logoff_ack", "progress_alice", "progress_bob", "complete_ok"}) {
    auto bytes = vec(name);
    uint32_t at = std::string_view(name) == "logoff_ack" ? kPacketHeaderSize + kHeaderTransactionOffset
                                                         : kPacketHeaderSize + kMessageHeaderSize;
    std::memcpy(bytes.data() + at, &txid, 4);
    ASSERT_TRUE(rig.guest.send_raw(bytes));
  }
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(observer->events(), (std::vector<std::string>{"ack 2", "progress 1/2 alice", "progress 2/2 bob",
                                                          "complete 0x00000000"}));
}

class ControlChannel : public ::testing::Test {
 protected:
  void SetUp() override {
    rig.guest.behavior.channels_to_open = {};
    rig.connect();
    rig.guest.log.clear();
  }
  // Sends one control request and returns the host's response.
  Message request(uint16_t type, const std::vector<uint8_t>& body) {
    rig.guest.send_request(kControlChannel, type, body);
    rig.guest.doorbell();
    rig.services.process();
    auto messages = rig.guest.receive();
    EXPECT_EQ(messages.size(), 1u);
    return messages.empty() ? Message{} : messages[0];
  }
  TestRig rig;
};

TEST_F(ControlChannel, OpenUnknownChannelIsInvalidArg) {
  EXPECT_EQ(request(kMsgOpen, encode(ChannelRef{9})).header.status, E_INVALIDARG);
  EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kUnknownChannel));
}

TEST_F(ControlChannel, OpenTwiceIsBusy) {
  EXPECT_EQ(request(kMsgOpen, encode(ChannelRef{1})).header.status, S_OK);
  EXPECT_EQ(request(kMsgOpen, encode(ChannelRef{1})).header.status, E_BUSY);
}

TEST_F(ControlChannel, NegotiateBeforeOpenIsInvalidState) {
  EXPECT_EQ(request(kMsgNegotiate, encode(NegotiateRequest{1, 1, 1})).header.status, E_INVALID_STATE);
}

TEST_F(ControlChannel, NegotiateWithoutCommonVersionIsNotImpl) {
  request(kMsgOpen, encode(ChannelRef{1}));
  Message response = request(kMsgNegotiate, encode(NegotiateRequest{1, 2, 5}));
  EXPECT_EQ(response.header.status, E_NOTIMPL);
  EXPECT_FALSE(rig.services.channel_ready(kServiceHeartbeat));
  response = request(kMsgNegotiate, encode(NegotiateRequest{1, 1, 9}));
  EXPECT_EQ(response.header.status, S_OK);
  EXPECT_EQ(decode_negotiate_response(response.body)->chosen_version, 1u);
  EXPECT_TRUE(rig.services.channel_ready(kServiceHeartbeat));
}

TEST_F(ControlChannel, CloseClosedChannelIsInvalidStateCloseOpenIsOk) {
  EXPECT_EQ(request(kMsgClose, encode(ChannelRef{2})).header.status, E_INVALID_STATE);
  request(kMsgOpen, encode(ChannelRef{2}));
  EXPECT_EQ(request(kMsgClose, encode(ChannelRef{2})).header.status, S_OK);
  EXPECT_EQ(rig.services.channel_status(2)->state, ChannelState::kClosed);
}

TEST_F(ControlChannel, ShortBodiesAreInvalidArg) {
  EXPECT_EQ(request(kMsgOpen, {1}).header.status, E_INVALIDARG);
  EXPECT_EQ(request(kMsgHello, {1, 2, 3}).header.status, E_INVALIDARG);
  EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kMalformedMessage));
}

TEST_F(ControlChannel, UnknownControlTypeIsNotImpl) {
  EXPECT_EQ(request(99, {}).header.status, E_NOTIMPL);
  EXPECT_EQ(request(kMsgOffer, {}).header.status, E_NOTIMPL);  // the guest does not offer
}

TEST_F(ControlChannel, ServiceMessageBeforeNegotiateIsInvalidState) {
  request(kMsgOpen, encode(ChannelRef{3}));
  rig.guest.send_request(kShutdownChannel, kMsgSessions, {});
  rig.guest.doorbell();
  rig.services.process();
  auto messages = rig.guest.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].header.status, E_INVALID_STATE);
  EXPECT_EQ(rig.services.channel_status(3)->errors, 1u);
}

TEST(ControlChannelBeforeHello, OpenBeforeHelloIsInvalidState) {
  TestRig rig;
  rig.guest.attach();
  rig.guest.send_request(kControlChannel, kMsgOpen, encode(ChannelRef{1}));
  rig.guest.doorbell();
  rig.services.process();
  auto messages = rig.guest.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].header.status, E_INVALID_STATE);
  EXPECT_FALSE(rig.services.agent_present());
}

TEST(Handshake, SecondHelloClosesEveryChannel) {
  TestRig rig;
  rig.connect();
  EXPECT_TRUE(rig.services.channel_ready(kServiceHeartbeat));
  rig.guest.behavior.channels_to_open = {};
  rig.guest.say_hello();
  rig.pump();
  for (uint16_t s = 1; s <= 4; ++s) EXPECT_FALSE(rig.services.channel_ready(s)) << s;
  EXPECT_TRUE(rig.services.agent_present());
}

}  // namespace
}  // namespace kvpc::testing
