// IntegrationLink: the event-loop side of the transport. It notices ATTACH/RESET (the device's
// link epoch), drains whole packets from TX, turns them into validated messages, and queues
// outgoing messages for RX (capped), writing them as RX space allows and raising the interrupt.
//
// Limits (docs/integration-protocol.md section 7): at most kMaxPacketsPerDoorbell packets per
// poll (more re-signals the doorbell so other loop work interleaves), at most
// kMaxQueuedMessages queued for a full RX ring; beyond that the oldest queued notification is
// dropped, and if there is none the new message is refused. Memory is therefore bounded by
// 64 x 4 KiB plus one packet whatever the guest does.
//
// Concurrency contract: event-loop thread only (HostServices calls it under its own lock).
// The guest may RESET/re-ATTACH on a vCPU thread at any moment, so the link's cached epoch,
// tx_ and rx_ can be stale between polls (timers call flush() without following the device)
// and even within one poll. Hence every access to the ring memory -- each TX packet read,
// each RX packet write with its rx_write publication, tx_read publication and the initial
// index stores -- runs inside IntegrationDevice::with_current_link(epoch_, ...), which
// re-checks the epoch under the device mutex that RESET/ATTACH take. A stale epoch touches
// nothing and just stops; the next poll (the CONTROL write signalled the doorbell) follows
// the new epoch and drops what was queued for the old link.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "integration/integration_device.h"
#include "integration/protocol.h"
#include "integration/ring.h"

namespace kvpc {

// What channels and services need from the transport: send, and count what was wrong.
class LinkPort {
 public:
  virtual ~LinkPort() = default;
  // Queues a message for the guest. False when the link is down or the message was refused.
  virtual bool send(uint16_t channel, const proto::MessageHeader& header, std::span<const uint8_t> body) = 0;
  virtual void count_error(proto::LinkError error) = 0;
};

struct LinkCounters {
  uint64_t packets_received = 0;
  uint64_t packets_sent = 0;
  uint64_t messages_dropped = 0;  // RX queue overflow (oldest notification or refused message)
  uint64_t polls_truncated = 0;   // polls that hit kMaxPacketsPerDoorbell
  uint64_t link_ups = 0;
  uint64_t link_downs = 0;
  std::array<uint64_t, proto::kLinkErrorCount> errors{};
};

class IntegrationLink final : public LinkPort {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void on_link_up() = 0;
    virtual void on_link_down() = 0;
    // A message that passed the packet and header checks (section 3-4).
    virtual void on_message(const proto::Message& message) = 0;
  };

  explicit IntegrationLink(IntegrationDevice& device) : device_(device) {}

  // Follows ATTACH/RESET, drains TX (up to the per-poll limit), then flushes RX.
  void poll(Listener& listener);
  // Writes queued messages while RX has room; raises the interrupt if any were written.
  void flush();

  bool up() const { return up_; }
  size_t queued() const { return queue_.size(); }
  const LinkCounters& counters() const { return counters_; }

  // LinkPort
  bool send(uint16_t channel, const proto::MessageHeader& header, std::span<const uint8_t> body) override;
  void count_error(proto::LinkError error) override;

 private:
  struct Outgoing {
    std::vector<uint8_t> packet;
    bool notification = false;
  };
  void follow_device(Listener& listener);
  void drain(Listener& listener);

  IntegrationDevice& device_;
  bool up_ = false;
  uint64_t epoch_ = 0;
  TxRingReader tx_;
  RxRingWriter rx_;
  std::deque<Outgoing> queue_;
  LinkCounters counters_;
};

}  // namespace kvpc
