// FakeGuest: a guest agent written in C++ for the integration tests.
//
// It owns a ring area in a real GuestMemory and drives the device only as a guest can: through
// the BAR0 IoDevice (ATTACH, DOORBELL, ISR, STATUS) and by reading/writing guest memory. Its
// ring code is written independently of integration/ring.* (plain GuestMemory reads and
// writes) so the two implementations check each other.
//
// Behaviour knobs let a test make it answer everything, lack features, never answer, answer
// slowly (hold replies for N steps) or interleave garbage.
//
// TestRig wires a GuestMemory, a recording IRQ line, the device, HostServices with a fake
// clock, and a FakeGuest. Tests drive processing directly (rig.pump() alternates
// HostServices::process() and FakeGuest::step()), which makes every exchange deterministic;
// one test (event_loop_test.cc) runs the real EventLoop on its thread instead.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "integration/host_services.h"
#include "integration/integration_device.h"
#include "integration/protocol.h"
#include "vmm/guest_memory.h"
#include "vmm/irq_line.h"

namespace kvpc::testing {

class RecordingIrq final : public IrqLine {
 public:
  void set_level(bool asserted) override {
    if (asserted && !level_) ++raises_;
    level_ = asserted;
  }
  bool level() const { return level_; }
  int raises() const { return raises_; }

 private:
  std::atomic<bool> level_{false};
  std::atomic<int> raises_{0};
};

class FakeClock {
 public:
  std::chrono::steady_clock::time_point now() const { return now_; }
  void advance(std::chrono::milliseconds delta) { now_ += delta; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::seconds(1000)};
};

// Records what an operation's observer saw, as text ("ack 2", "progress 1/2 alice", ...).
class RecordingObserver final : public GuestOperationObserver {
 public:
  void on_acknowledged(uint32_t sessions_found) override { add(fmt::format("ack {}", sessions_found)); }
  void on_rejected(HRESULT status) override { add(fmt::format("rejected {}", hresult_hex(status))); }
  void on_progress(uint32_t done, uint32_t total, const std::string& name) override {
    add(fmt::format("progress {}/{} {}", done, total, name));
  }
  void on_complete(HRESULT status) override { add(fmt::format("complete {}", hresult_hex(status))); }
  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  void add(std::string event) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
};

class FakeGuest {
 public:
  struct Behavior {
    uint32_t features = 0x7F;
    std::vector<uint16_t> channels_to_open = {1, 2, 3, 4};
    bool answer_beats = true;
    bool answer_operations = true;      // false: never acknowledge shutdown/restart/logoff
    HRESULT ack_status = S_OK;          // a failure here rejects the operation
    bool send_progress = true;
    bool send_complete = true;
    std::vector<std::string> sessions = {"alice", "bob"};
    std::vector<std::pair<std::string, std::string>> os_info = {{"ComputerName", "KVPC-GUEST"},
                                                                 {"OSName", "kvpc test OS"}};
    int reply_delay_steps = 0;          // "answers slowly": replies leave after N steps
    bool interleave_garbage = false;    // a malformed packet before every reply
  };

  FakeGuest(GuestMemory& memory, IoDevice& bar0, uint64_t ring_gpa, uint32_t pages)
      : memory_(memory), bar0_(bar0), gpa_(ring_gpa), pages_(pages) {}

  Behavior behavior;

  // --- Registers ------------------------------------------------------------------------------
  uint32_t read_reg(uint32_t offset) {
    uint8_t data[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    bar0_.read(offset, data);
    return static_cast<uint32_t>(load_le(data));
  }
  void write_reg(uint32_t offset, uint32_t value) {
    uint8_t data[4];
    store_le(data, value);
    bar0_.write(offset, data);
  }
  uint32_t status() { return read_reg(proto::kRegStatus); }
  uint32_t last_error() { return (status() & proto::kStatusErrorMask) >> proto::kStatusErrorShift; }

  // Zeroes the header page, programs RING_GPA/RING_PAGES and ATTACHes. True when attached.
  bool attach() { return attach_at(gpa_, pages_); }
  bool attach_at(uint64_t gpa, uint32_t pages) {
    if (auto header = memory_.span(gpa, proto::kPageSize)) std::memset(header->data(), 0, header->size());
    tx_write_ = 0;
    rx_read_ = 0;
    write_reg(proto::kRegRingGpaLo, static_cast<uint32_t>(gpa));
    write_reg(proto::kRegRingGpaHi, static_cast<uint32_t>(gpa >> 32));
    write_reg(proto::kRegRingPages, pages);
    write_reg(proto::kRegControl, proto::kControlAttach);
    return (status() & proto::kStatusAttached) != 0;
  }
  void reset_link() { write_reg(proto::kRegControl, proto::kControlReset); }
  void doorbell() { write_reg(proto::kRegDoorbell, 1); }

  // --- TX ---------------------------------------------------------------------------------------
  uint64_t tx_gpa() const { return gpa_ + proto::kPageSize; }
  uint32_t tx_size() const { return (pages_ - 1) / 2 * proto::kPageSize; }
  uint64_t rx_gpa() const { return tx_gpa() + tx_size(); }
  uint32_t rx_size() const { return (pages_ - 1 - (pages_ - 1) / 2) * proto::kPageSize; }

  uint32_t header_u32(uint32_t offset) { return memory_.read_obj<uint32_t>(gpa_ + offset).value_or(0); }
  void set_header_u32(uint32_t offset, uint32_t value) { memory_.write_obj(gpa_ + offset, value); }

  // Writes bytes as one packet at tx_write (padded to 8) and publishes tx_write.
  bool send_raw(std::span<const uint8_t> bytes) {
    uint32_t padded = static_cast<uint32_t>((bytes.size() + 7) & ~size_t{7});
    uint32_t used = tx_write_ - header_u32(proto::kTxReadOffset);
    if (used > tx_size() || padded > tx_size() - used) return false;
    std::vector<uint8_t> buffer(bytes.begin(), bytes.end());
    buffer.resize(padded, 0);
    for (uint32_t i = 0; i < padded; ++i) {
      memory_.write(tx_gpa() + (tx_write_ + i) % tx_size(), std::span<const uint8_t>(&buffer[i], 1));
    }
    tx_write_ += padded;
    set_header_u32(proto::kTxWriteOffset, tx_write_);
    return true;
  }
  bool send(uint16_t channel, const proto::MessageHeader& header, std::span<const uint8_t> body) {
    return send_raw(proto::encode_packet(channel, header, body));
  }
  bool send_request(uint16_t channel, uint16_t type, std::span<const uint8_t> body) {
    return send(channel, proto::make_header(type, proto::kFlagRequest, ++transaction_, body.size()), body);
  }
  void set_tx_write(uint32_t value) {
    tx_write_ = value;
    set_header_u32(proto::kTxWriteOffset, value);
  }
  uint32_t tx_write() const { return tx_write_; }

  // --- RX ---------------------------------------------------------------------------------------
  // Reads ISR (clearing it) and every whole packet in RX, as raw padded bytes.
  std::vector<std::vector<uint8_t>> receive_raw() {
    last_isr_ = read_reg(proto::kRegIsr);
    std::vector<std::vector<uint8_t>> packets;
    uint32_t write = header_u32(proto::kRxWriteOffset);
    while (rx_read_ != write && write - rx_read_ <= rx_size()) {
      uint8_t head[8];
      read_ring(rx_read_, head);
      auto header = proto::decode_packet_header(head);
      uint32_t padded = proto::padded_packet_size(header->length);
      // A host bug, or (in the fuzz targets) RX bytes the "guest" scribbled over itself: stop.
      if (header->length < proto::kMessageHeaderSize || header->length > proto::kMaxPayload ||
          padded > write - rx_read_) {
        break;
      }
      std::vector<uint8_t> packet(padded);
      read_ring(rx_read_, packet);
      packets.push_back(std::move(packet));
      rx_read_ += padded;
    }
    set_header_u32(proto::kRxReadOffset, rx_read_);
    return packets;
  }
  std::vector<proto::Message> receive() {
    std::vector<proto::Message> messages;
    for (const auto& packet : receive_raw()) messages.push_back(decode(packet));
    return messages;
  }
  static proto::Message decode(std::span<const uint8_t> packet) {
    proto::Message message;
    auto header = proto::decode_packet_header(packet);
    message.channel = header->channel;
    auto payload = packet.subspan(proto::kPacketHeaderSize, header->length);
    message.header = *proto::decode_message_header(payload);
    message.body.assign(payload.begin() + proto::kMessageHeaderSize, payload.end());
    return message;
  }
  uint32_t last_isr() const { return last_isr_; }
  void mask_rx_interrupts(bool masked) { set_header_u32(proto::kRxInterruptMaskOffset, masked ? 1 : 0); }

  // --- The agent ----------------------------------------------------------------------------------
  void say_hello(uint32_t agent_version = 1) {
    send(proto::kControlChannel,
         proto::make_header(proto::kMsgHello, proto::kFlagRequest, ++transaction_, 40),
         proto::encode(proto::HelloRequest{agent_version, behavior.features, "fake-agent"}));
    doorbell();
  }

  // Receives everything, reacts per behaviour, sends what is due, rings the doorbell if it sent.
  // Returns the number of messages received.
  size_t step() {
    ++steps_;
    auto messages = receive();
    for (const auto& message : messages) {
      log.push_back(message);
      react(message);
    }
    bool sent = false;
    while (!outbox_.empty() && outbox_.front().due <= steps_) {
      if (behavior.interleave_garbage) {
        uint8_t garbage[32] = {0};
        garbage[4] = 24;  // length 24, but a message header of all zeros: framework 0
        send_raw(garbage);
      }
      if (!send_raw(outbox_.front().packet)) break;  // TX full: try next step
      outbox_.pop_front();
      sent = true;
    }
    if (sent) doorbell();
    return messages.size();
  }

  std::vector<proto::Message> log;  // everything the guest received
  std::vector<uint16_t> ready_channels;
  std::vector<uint64_t> times_received;
  uint32_t beats_answered = 0;

 private:
  void reply(uint16_t channel, uint16_t type, uint16_t flags, uint32_t transaction, HRESULT status,
             std::vector<uint8_t> body) {
    auto packet = proto::encode_packet(
        channel, proto::make_header(type, flags, transaction, static_cast<uint32_t>(body.size()), status), body);
    outbox_.push_back(Outgoing{steps_ + static_cast<uint64_t>(behavior.reply_delay_steps), std::move(packet)});
  }

  bool wants(uint16_t channel) const {
    for (auto c : behavior.channels_to_open) {
      if (c == channel) return true;
    }
    return false;
  }

  void react(const proto::Message& m) {
    using namespace proto;
    const MessageHeader& h = m.header;
    if (m.channel == kControlChannel) {
      if (h.type == kMsgOffer && h.is_notification()) {
        auto offer = decode_offer(m.body);
        if (offer && wants(offer->channel_id)) {
          reply(kControlChannel, kMsgOpen, kFlagRequest, ++transaction_, S_OK, encode(ChannelRef{offer->channel_id}));
        }
      } else if (h.type == kMsgOpen && h.is_response() && h.status == S_OK) {
        auto ref = decode_channel_ref(m.body);
        if (ref) {
          reply(kControlChannel, kMsgNegotiate, kFlagRequest, ++transaction_, S_OK,
                encode(NegotiateRequest{ref->channel_id, 1, 1}));
        }
      } else if (h.type == kMsgNegotiate && h.is_response() && h.status == S_OK) {
        if (auto response = decode_negotiate_response(m.body)) ready_channels.push_back(response->channel_id);
      }
      return;
    }
    if (m.channel == kHeartbeatChannel && h.type == kMsgBeat && h.is_request()) {
      if (!behavior.answer_beats) return;
      ++beats_answered;
      reply(kHeartbeatChannel, kMsgBeat, kFlagResponse, h.transaction_id, S_OK, encode_u64(*decode_u64(m.body) + 1));
    } else if (m.channel == kOsInfoChannel && h.type == kMsgOsInfoGet && h.is_request()) {
      reply(kOsInfoChannel, kMsgOsInfoGet, kFlagResponse, h.transaction_id, S_OK, encode_key_values(behavior.os_info));
    } else if (m.channel == kShutdownChannel && h.type == kMsgSessions && h.is_request()) {
      reply(kShutdownChannel, kMsgSessions, kFlagResponse, h.transaction_id, S_OK,
            encode_session_list(behavior.sessions));
    } else if (m.channel == kShutdownChannel && h.is_request() && h.type >= kMsgShutdown && h.type <= kMsgLogoff) {
      if (!behavior.answer_operations) return;
      uint32_t count = static_cast<uint32_t>(behavior.sessions.size());
      reply(kShutdownChannel, h.type, kFlagResponse, h.transaction_id, behavior.ack_status,
            encode(OperationAck{count}));
      if (failed(behavior.ack_status)) return;
      if (behavior.send_progress) {
        for (uint32_t i = 0; i < count; ++i) {
          reply(kShutdownChannel, kMsgProgress, kFlagNotification, 0, S_OK,
                encode(Progress{h.transaction_id, i + 1, count, behavior.sessions[i]}));
        }
      }
      if (behavior.send_complete) {
        HRESULT outcome = (h.type == kMsgLogoff && count == 0) ? E_NO_SUCH_LOGON_SESSION : S_OK;
        reply(kShutdownChannel, kMsgComplete, kFlagNotification, 0, outcome, encode(Complete{h.transaction_id}));
      }
    } else if (m.channel == kTimeSyncChannel && h.type == kMsgTime && h.is_notification()) {
      if (auto t = decode_u64(m.body)) times_received.push_back(*t);
    }
  }

  void read_ring(uint32_t index, std::span<uint8_t> out) {
    for (size_t i = 0; i < out.size(); ++i) {
      memory_.read(rx_gpa() + (index + i) % rx_size(), out.subspan(i, 1));
    }
  }

  struct Outgoing {
    uint64_t due;
    std::vector<uint8_t> packet;
  };

  GuestMemory& memory_;
  IoDevice& bar0_;
  uint64_t gpa_;
  uint32_t pages_;
  uint32_t tx_write_ = 0;
  uint32_t rx_read_ = 0;
  uint32_t transaction_ = 0;
  uint32_t last_isr_ = 0;
  uint64_t steps_ = 0;
  std::deque<Outgoing> outbox_;
};

inline GuestMemory make_memory(uint64_t bytes = 16 << 20) {
  auto memory = GuestMemory::create_pc(bytes);
  return std::move(memory).value();
}

// Everything a test needs, wired as the machine would (minus the event loop).
struct TestRig {
  static constexpr uint64_t kRingGpa = 0x100000;
  static constexpr uint32_t kRingPages = 16;

  explicit TestRig(HostServicesOptions options = {}, uint32_t ring_pages = kRingPages)
      : memory(make_memory()),
        device(memory, irq),
        services(device, with_clock(std::move(options))),
        guest(memory, *device.bar_device(0), kRingGpa, ring_pages) {
    (void)device.init();
  }

  HostServicesOptions with_clock(HostServicesOptions options) {
    options.clock = [this] { return clock.now(); };
    if (!options.unix_time_ns) options.unix_time_ns = [] { return uint64_t{1700000000} * 1000000000; };
    return options;
  }

  // Alternates host processing and guest steps `rounds` times (enough for any exchange here,
  // including replies the guest delays by a few steps).
  void pump(int rounds = 16) {
    for (int i = 0; i < rounds; ++i) {
      services.process();
      guest.step();
    }
  }

  // ATTACH + HELLO + open/negotiate everything the behaviour wants.
  void connect() {
    guest.attach();
    guest.say_hello();
    pump();
  }

  FakeClock clock;
  GuestMemory memory;
  RecordingIrq irq;
  IntegrationDevice device;
  HostServices services;
  FakeGuest guest;
};

}  // namespace kvpc::testing
