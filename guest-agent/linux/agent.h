// The agent's protocol engine: link (ATTACH/RESET), rings, control channel and the four
// services, answering exactly as the built-in guest's nasm agent (guest-firmware/include/agent.inc).
//
// One thread owns an Agent: start() once, then service() after every Device::wait() (run()
// does that loop). Nothing here trusts the host: ring indices are checked against the ring
// size, packet lengths against 24..4088 and against what the host says it wrote, every
// payload is copied out of the ring before it is parsed, and at most `rx_budget` packets are
// handled per call. Corrupt rings make the agent RESET and re-ATTACH (at most `max_relinks`
// times without a HELLO answer in between; then it waits for the host to reset the link).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "guest-agent/linux/system.h"
#include "guest-agent/linux/transport.h"
#include "guest-agent/linux/wire.h"

namespace kvpc::agent {

struct AgentOptions {
  uint32_t features = wire::kAllFeatures;
  std::string name = "kvpc-agent";
  uint32_t rx_budget = 64;
  uint32_t max_relinks = 8;
  // Before a power action: how long to wait for the host to take the COMPLETE from TX.
  std::chrono::milliseconds drain_timeout{1000};
  // How often run() compares the session list with the one the host has (SESSION_CHANGED).
  std::chrono::milliseconds session_check_interval{2000};
};

struct AgentCounters {
  uint64_t packets_received = 0;
  uint64_t packets_sent = 0;
  uint64_t dropped = 0;        // messages ignored: malformed, unexpected, or TX full
  uint64_t relinks = 0;        // RESET + ATTACH done by the agent (corrupt ring or host RESET)
  uint64_t host_resets = 0;    // ISR.RESET seen
};

class Agent {
 public:
  Agent(Device& device, RingMemory ring, System& system, AgentOptions options = {});

  // ATTACH the ring and send HELLO. False when the device refused the ring (STATUS not attached).
  bool start();
  // Handles whatever the device has: ISR (RESET → re-attach), up to rx_budget RX packets.
  // True when packets are still waiting (call again before waiting).
  bool service();
  // Checks the session list and sends SESSION_CHANGED when it differs from what was last sent.
  void check_sessions();
  // start(), then service() after every wait until `stop` is set.
  void run(std::chrono::milliseconds poll_interval, const std::atomic<bool>& stop);

  bool attached() const { return attached_; }
  bool connected() const { return connected_; }
  // Connected and every channel this agent opened is negotiated.
  bool ready() const;
  uint64_t host_time_ns() const { return host_time_ns_; }
  const AgentCounters& counters() const { return counters_; }

 private:
  enum class ChannelState : uint8_t { kNone, kOpening, kReady, kFailed };
  struct Channel {
    uint16_t id = 0;
    ChannelState state = ChannelState::kNone;
    uint32_t open_txid = 0;
    uint32_t negotiate_txid = 0;
  };
  static constexpr uint16_t kServices = 4;

  // --- link and rings
  bool attach();
  void relink();
  uint32_t tx_size() const;
  uint32_t rx_size() const;
  uint8_t* tx_data() const;
  uint8_t* rx_data() const;
  bool send(uint16_t channel, const wire::Header& header, const std::vector<uint8_t>& body);
  void doorbell();
  void wait_tx_drained();
  uint32_t new_txid();

  // --- messages
  void dispatch(uint32_t chanword, const std::vector<uint8_t>& payload);
  void control(const wire::Message& m);
  void on_hello_response(const wire::Message& m);
  void on_offer(const wire::Message& m);
  void on_open_response(const wire::Message& m);
  void on_negotiate_response(const wire::Message& m);
  int service_of_channel(uint16_t channel) const;
  void reply(const wire::Message& request, uint32_t status, const std::vector<uint8_t>& body);
  void refuse(const wire::Message& m, uint32_t status);
  void notify(uint16_t channel, uint16_t type, uint32_t status, const std::vector<uint8_t>& body);

  // --- services
  void heartbeat(const wire::Message& m);
  void os_info(const wire::Message& m);
  void time_sync(const wire::Message& m);
  void shutdown_service(const wire::Message& m);
  void operation(const wire::Message& m);
  std::vector<uint8_t> os_info_body();
  std::vector<uint8_t> session_list_body(const std::vector<Session>& sessions);
  void send_session_changed(const std::vector<Session>& sessions);

  Device& device_;
  RingMemory ring_;
  System& system_;
  AgentOptions options_;

  bool attached_ = false;
  bool connected_ = false;
  bool broken_ = false;  // corrupt ring seen during this call: relink at the end
  bool doorbell_due_ = false;
  uint32_t tx_write_ = 0;
  uint32_t rx_read_ = 0;
  uint32_t next_txid_ = 0;
  uint32_t hello_txid_ = 0;
  uint32_t relinks_without_hello_ = 0;
  uint32_t offers_expected_ = 0;
  uint32_t offers_seen_ = 0;
  uint64_t host_time_ns_ = 0;
  std::array<Channel, kServices + 1> channels_{};  // by service id
  std::vector<std::string> sessions_sent_;
  bool sessions_sent_valid_ = false;
  AgentCounters counters_;
};

}  // namespace kvpc::agent
