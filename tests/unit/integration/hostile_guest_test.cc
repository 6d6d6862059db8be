// Every guest-written byte is hostile: bad lengths, bad indices, unknown channels, early
// messages, floods and random rings. The host must not crash, must stay bounded, must count,
// and must still serve a well-behaved exchange afterwards.
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/integration/fake_guest.h"
#include "tests/unit/integration/test_vectors.h"

namespace kvpc::testing {
namespace {

using namespace proto;

uint64_t errors(TestRig& rig, LinkError error) {
  return rig.services.link_counters().errors[static_cast<size_t>(error)];
}

// After any abuse: reset, reconnect, and a Logoff still completes.
void expect_recovers(TestRig& rig) {
  rig.guest.behavior = FakeGuest::Behavior{};
  rig.guest.attach();
  rig.guest.say_hello();
  rig.pump();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  ASSERT_FALSE(observer->events().empty());
  EXPECT_EQ(observer->events().back(), "complete 0x00000000");
}

TEST(HostileGuest, ShortPacketLengthDiscardsTheRingAndCounts) {
  TestRig rig;
  rig.connect();
  rig.guest.send_raw(vec("bad_length_short"));
  rig.guest.send_raw(vec("hello_request"));  // discarded with it
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kPacketLength));
  EXPECT_EQ(rig.guest.header_u32(kTxReadOffset), rig.guest.tx_write());
  EXPECT_TRUE(rig.guest.receive().empty());
  expect_recovers(rig);
}

TEST(HostileGuest, LengthsAbove4088AreRejected) {
  TestRig rig;
  rig.connect();
  for (uint32_t length : {kMaxPayload + 1, 4096u, 5000u, 0xFFFFFFFFu}) {
    std::vector<uint8_t> packet(32, 0);
    std::memcpy(packet.data() + 4, &length, 4);
    rig.guest.send_raw(packet);
    rig.guest.doorbell();
    rig.services.process();
    EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kPacketLength)) << length;
  }
  EXPECT_EQ(errors(rig, LinkError::kPacketLength), 4u);
  expect_recovers(rig);
}

TEST(HostileGuest, LengthLongerThanWhatTheRingHoldsIsRejected) {
  TestRig rig;
  rig.connect();
  auto hello = vec("hello_request");
  rig.guest.send_raw(std::span(hello).first(40));  // header says 64 bytes of payload, 32 are there
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kPacketLength));
  expect_recovers(rig);
}

TEST(HostileGuest, WriteMinusReadBeyondRingSizeIsRejected) {
  TestRig rig;
  rig.connect();
  rig.guest.set_tx_write(rig.guest.header_u32(kTxReadOffset) + rig.guest.tx_size() + 8);
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kTxIndices));
  EXPECT_EQ(rig.guest.read_reg(kRegErrorCount), 1u);
  expect_recovers(rig);
}

TEST(HostileGuest, SizeMismatchDiscardsEverythingQueued) {
  TestRig rig;
  rig.connect();
  rig.guest.send_raw(vec("bad_size_mismatch"));
  rig.guest.send_raw(vec("hello_request"));
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(rig.guest.last_error(), static_cast<uint32_t>(LinkError::kMessageSize));
  EXPECT_TRUE(rig.guest.receive().empty());
  EXPECT_EQ(rig.guest.header_u32(kTxReadOffset), rig.guest.tx_write());
  expect_recovers(rig);
}

TEST(HostileGuest, MalformedHeadersDropOnlyThatPacket) {
  TestRig rig;
  rig.connect();
  rig.guest.log.clear();
  rig.guest.send_raw(vec("bad_flags"));
  rig.guest.send_raw(vec("bad_framework"));
  rig.guest.send_raw(vec("unknown_channel_request"));
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(errors(rig, LinkError::kMalformedMessage), 2u);
  auto replies = rig.guest.receive();
  ASSERT_EQ(replies.size(), 1u);  // only the well-formed one is answered
  EXPECT_EQ(replies[0].channel, 9);
  EXPECT_EQ(replies[0].header.status, E_INVALIDARG);
  EXPECT_EQ(errors(rig, LinkError::kUnknownChannel), 1u);
}

TEST(HostileGuest, ServiceMessagesBeforeNegotiationAreRefused) {
  TestRig rig;
  rig.guest.attach();
  rig.guest.send_request(kShutdownChannel, kMsgLogoff, encode_u32(0));
  rig.guest.say_hello();  // even after HELLO: the channel is not open
  rig.guest.send_request(kShutdownChannel, kMsgLogoff, encode_u32(0));
  auto body = encode(Progress{1, 1, 1, "x"});
  rig.guest.send(kShutdownChannel, make_header(kMsgProgress, kFlagNotification, 0, body.size()), body);
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(errors(rig, LinkError::kChannelNotReady), 3u);
  int invalid_state = 0;
  for (const auto& m : rig.guest.receive()) invalid_state += m.header.status == E_INVALID_STATE;
  EXPECT_EQ(invalid_state, 2);  // the two requests; the notification is only counted
}

TEST(HostileGuest, UnsolicitedCompletionsAndProgressAreCounted) {
  TestRig rig;
  rig.connect();
  auto complete = encode(Complete{12345});
  rig.guest.send(kShutdownChannel, make_header(kMsgComplete, kFlagNotification, 0, complete.size()), complete);
  auto ack = encode(OperationAck{1});
  rig.guest.send(kShutdownChannel, make_header(kMsgLogoff, kFlagResponse, 777, ack.size()), ack);
  rig.guest.send(kShutdownChannel, make_header(kMsgLogoff, kFlagRequest, 1, 0), {});  // the host is not a guest
  rig.guest.send(kShutdownChannel, make_header(42, kFlagNotification, 0, 0), {});
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(errors(rig, LinkError::kUnexpectedMessage), 3u);
  EXPECT_EQ(errors(rig, LinkError::kUnknownMessage), 1u);
  expect_recovers(rig);
}

TEST(HostileGuest, ProgressNumbersAreClamped) {
  TestRig rig;
  rig.guest.behavior.answer_operations = false;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump(2);
  uint32_t txid = rig.guest.log.back().header.transaction_id;
  auto body = encode(Progress{txid, 50, 2, "\x1b[2J"});
  rig.guest.send(kShutdownChannel, make_header(kMsgProgress, kFlagNotification, 0, body.size()), body);
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_EQ(observer->events(), (std::vector<std::string>{"progress 2/2 ?[2J"}));
}

TEST(HostileGuest, FloodOf10000PacketsIsBoundedAndCounted) {
  TestRig rig;
  rig.connect();
  auto hello_body = encode(HelloRequest{1, 0x7F, "flood"});
  int sent = 0;
  // The guest never reads RX: every request it floods asks for a response the host must hold.
  while (sent < 10000) {
    int batch = 0;
    while (batch < 200 && rig.guest.send_request(kHeartbeatChannel, 99, {})) ++batch;
    sent += batch;
    rig.guest.doorbell();
    rig.services.process();
    ASSERT_LE(rig.services.link_counters().packets_received, static_cast<uint64_t>(sent) + 200);
  }
  for (int i = 0; i < 50; ++i) rig.services.process();  // the per-poll cap re-signals the doorbell
  LinkCounters counters = rig.services.link_counters();
  EXPECT_GE(counters.packets_received, 10000u);
  EXPECT_GE(counters.messages_dropped, 1u);
  EXPECT_GE(errors(rig, LinkError::kRxOverflow), 1u);
  EXPECT_GE(errors(rig, LinkError::kUnknownMessage), 10000u);
  EXPECT_GT(rig.guest.read_reg(kRegErrorCount), 10000u);
  expect_recovers(rig);
}

TEST(HostileGuest, PerPollLimitThenDoorbellResignalled) {
  TestRig rig;
  rig.connect();
  int sent = 0;
  while (rig.guest.send_request(kHeartbeatChannel, 99, {})) ++sent;
  ASSERT_GT(sent, static_cast<int>(kMaxPacketsPerDoorbell));
  rig.device.consume_doorbell();
  rig.services.process();
  EXPECT_EQ(rig.services.link_counters().polls_truncated, 1u);
  EXPECT_TRUE(rig.device.consume_doorbell());  // asked to come back
}

TEST(HostileGuest, QueueForAFullRxRingIsCappedAndOldestNotificationDropped) {
  TestRig rig({}, kMinRingPages);
  rig.guest.behavior.answer_beats = true;
  rig.connect();
  // The guest stops reading RX; the host keeps producing time notifications and beats.
  for (int i = 0; i < 500; ++i) {
    rig.services.time_sync_tick();
    rig.services.heartbeat_tick();
  }
  EXPECT_GE(errors(rig, LinkError::kRxOverflow), 1u);
  EXPECT_LE(rig.services.link_counters().messages_dropped, 1000u);
  // The guest drains RX and rings the doorbell: held-back messages flow again.
  rig.guest.step();
  rig.services.process();
  EXPECT_FALSE(rig.guest.receive().empty());
  expect_recovers(rig);
}

TEST(HostileGuest, HostileRxIndicesAreCountedAndNothingIsWritten) {
  TestRig rig;
  rig.connect();
  rig.guest.set_header_u32(kRxReadOffset, 0x80000000);
  rig.services.time_sync_tick();
  EXPECT_GE(errors(rig, LinkError::kRxIndices), 1u);
  expect_recovers(rig);
}

TEST(HostileGuest, GarbageInterleavedWithRepliesStillCompletesLogoff) {
  TestRig rig;
  rig.guest.behavior.interleave_garbage = true;
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events().back(), "complete 0x00000000");
  EXPECT_GT(errors(rig, LinkError::kMalformedMessage), 0u);
}

TEST(HostileGuest, RandomRingsNeverCrashTheHost) {
  std::mt19937_64 random(0x6B766963);
  TestRig rig({}, 5);
  for (int round = 0; round < 3000; ++round) {
    if (round % 50 == 0) {
      rig.guest.attach();
      if (round % 100 == 0) rig.guest.say_hello();
    }
    // Random TX bytes, sometimes shaped like packets so they get past the first checks.
    std::vector<uint8_t> bytes(8 + random() % 600);
    for (auto& b : bytes) b = static_cast<uint8_t>(random());
    if (random() % 2) {
      uint32_t length = static_cast<uint32_t>(bytes.size() - 8);
      uint16_t channel = static_cast<uint16_t>(random() % 6);
      std::memcpy(bytes.data(), &channel, 2);
      bytes[2] = bytes[3] = 0;
      std::memcpy(bytes.data() + 4, &length, 4);
      if (length >= 24 && random() % 2) {
        uint32_t size = length - 24;
        uint16_t framework = 1, flags = static_cast<uint16_t>(1u << (random() % 3));
        std::memcpy(bytes.data() + 8, &framework, 2);
        std::memcpy(bytes.data() + 14, &flags, 2);
        std::memcpy(bytes.data() + 16, &size, 4);
        std::memset(bytes.data() + 28, 0, 4);
      }
    }
    rig.guest.send_raw(bytes);
    // And sometimes random indices and header words.
    if (random() % 10 == 0) rig.guest.set_header_u32(kTxWriteOffset, static_cast<uint32_t>(random()));
    if (random() % 10 == 0) rig.guest.set_header_u32(kRxReadOffset, static_cast<uint32_t>(random()));
    if (random() % 20 == 0) rig.guest.set_header_u32(kTxReadOffset, static_cast<uint32_t>(random()));
    rig.guest.doorbell();
    rig.services.process();
    if (random() % 4 == 0) rig.services.heartbeat_tick();
    if (random() % 3 == 0) rig.guest.step();
  }
  SUCCEED();
  expect_recovers(rig);
}

}  // namespace
}  // namespace kvpc::testing
