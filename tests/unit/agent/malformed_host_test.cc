// A hostile or broken host must not crash the agent: corrupt indices, bad packet lengths,
// malformed headers, unknown channels and random bytes in the RX ring. The agent drops what is
// malformed, resets the link on corrupt framing, and serves normally afterwards.
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/agent/agent_rig.h"

namespace kvpc {
namespace {

using testing::AgentRig;
using testing::RecordingObserver;

class LinuxAgentHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    agent::set_log_sink(agent::LogSink::kNone);
    rig.connect();
    ASSERT_TRUE(rig.agent.ready());
  }
  void TearDown() override { agent::set_log_sink(agent::LogSink::kStderr); }

  uint8_t* header() { return rig.memory.span(AgentRig::kRingGpa, proto::kPageSize)->data(); }
  uint32_t rx_size() { return (AgentRig::kRingPages - 1 - (AgentRig::kRingPages - 1) / 2) * proto::kPageSize; }
  uint8_t* rx() {
    uint32_t tx = (AgentRig::kRingPages - 1) / 2 * proto::kPageSize;
    return rig.memory.span(AgentRig::kRingGpa + proto::kPageSize + tx, rx_size())->data();
  }
  uint32_t get(uint32_t offset) {
    uint32_t v;
    std::memcpy(&v, header() + offset, 4);
    return v;
  }
  void set(uint32_t offset, uint32_t v) { std::memcpy(header() + offset, &v, 4); }
  // Puts raw bytes into RX at the agent's read index, as a host would, and publishes rx_write.
  void inject(const std::vector<uint8_t>& bytes, uint32_t claimed_write_delta) {
    uint32_t read = get(proto::kRxReadOffset);
    for (size_t i = 0; i < bytes.size(); ++i) rx()[(read + i) % rx_size()] = bytes[i];
    set(proto::kRxWriteOffset, read + claimed_write_delta);
  }
  // The agent still works: a Logoff round trip with the real host.
  void expect_serving() {
    rig.pump();
    ASSERT_TRUE(rig.agent.ready());
    auto observer = std::make_shared<RecordingObserver>();
    ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
    rig.pump();
    EXPECT_EQ(observer->events(), (std::vector<std::string>{"ack 0", "complete 0x80070520"}));
  }

  AgentRig rig;
};

TEST_F(LinuxAgentHostile, ImpossibleRxIndicesResetTheLink) {
  set(proto::kRxWriteOffset, get(proto::kRxReadOffset) + rx_size() + 8);
  rig.agent.service();
  EXPECT_EQ(rig.agent.counters().relinks, 1u);
  expect_serving();
}

TEST_F(LinuxAgentHostile, PacketLengthsOutOfRangeResetTheLink) {
  for (uint32_t length : {0u, 23u, 4089u, 0xFFFFFFFFu}) {
    std::vector<uint8_t> packet(32, 0);
    std::memcpy(packet.data() + 4, &length, 4);
    inject(packet, 32);
    rig.agent.service();
    rig.pump();
  }
  EXPECT_EQ(rig.agent.counters().relinks, 4u);
  expect_serving();
}

TEST_F(LinuxAgentHostile, PacketLongerThanWhatTheHostWroteResetsTheLink) {
  auto packet = agent::wire::encode_packet(1, {.type = 1, .flags = agent::wire::kFlagRequest}, std::vector<uint8_t>(8));
  inject(packet, 16);  // claims 16 bytes, the packet is 40
  rig.agent.service();
  EXPECT_EQ(rig.agent.counters().relinks, 1u);
  expect_serving();
}

TEST_F(LinuxAgentHostile, MalformedMessagesAreDroppedWithoutALinkReset) {
  using namespace agent::wire;
  std::vector<std::vector<uint8_t>> bad = {
      encode_packet(1, {.framework = 2, .type = 1, .flags = kFlagRequest}, std::vector<uint8_t>(8)),
      encode_packet(1, {.type = 1, .flags = kFlagRequest | kFlagResponse}, std::vector<uint8_t>(8)),
      encode_packet(1, {.type = 1, .flags = kFlagRequest, .reserved = 5}, std::vector<uint8_t>(8)),
      encode_packet(0x1234, {.type = 1, .flags = kFlagNotification}, {}),
      encode_packet(3, {.type = 99, .flags = kFlagNotification}, {}),
      encode_packet(0, {.type = kMsgOffer, .flags = kFlagNotification}, {1, 0}),  // body too short
  };
  bad[2][2] = 0;  // (reserved field of the message header; the packet's own reserved stays 0)
  std::vector<uint8_t> bad_packet_reserved = encode_packet(1, {.type = 1, .flags = kFlagRequest}, std::vector<uint8_t>(8));
  bad_packet_reserved[2] = 1;
  bad.push_back(bad_packet_reserved);
  uint64_t dropped_before = rig.agent.counters().dropped;
  for (const auto& packet : bad) {
    inject(packet, static_cast<uint32_t>(packet.size()));
    rig.agent.service();
  }
  EXPECT_EQ(rig.agent.counters().relinks, 0u);
  EXPECT_GE(rig.agent.counters().dropped, dropped_before + bad.size());
  EXPECT_TRUE(rig.agent.attached());
  // The bytes above were spoofed behind the real host's back (its own rx_write copy no longer
  // matches ours), so the host resets the link to resynchronise before the final round trip.
  rig.device.host_reset_link();
  expect_serving();
}

TEST_F(LinuxAgentHostile, RandomBytesNeverCrashTheAgent) {
  std::mt19937 random(20261125);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> bytes(8 + random() % 200);
    for (auto& b : bytes) b = static_cast<uint8_t>(random());
    if (round % 2) {  // a plausible packet header with a random payload
      uint32_t length = 24 + random() % 100;
      uint16_t channel = static_cast<uint16_t>(random() % 6);
      std::memcpy(bytes.data(), &channel, 2);
      bytes[2] = bytes[3] = 0;
      std::memcpy(bytes.data() + 4, &length, 4);
      bytes.resize((8 + length + 7) & ~7u);
      uint16_t framework = 1;
      std::memcpy(bytes.data() + 8, &framework, 2);
    }
    inject(bytes, round % 7 == 0 ? static_cast<uint32_t>(random()) : static_cast<uint32_t>((bytes.size() + 7) & ~7u));
    rig.agent.service();
    if (round % 50 == 0) rig.pump(2);
  }
  rig.device.host_reset_link();  // whatever state random input left: the host's RESET recovers
  expect_serving();
}

}  // namespace
}  // namespace kvpc
