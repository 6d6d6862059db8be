// ChannelTable: the control channel (HELLO, OFFER, OPEN, CLOSE, NEGOTIATE) and the state of
// every service channel (docs/integration-protocol.md section 5).
//
// Every message from the guest passes through route(): control messages are answered here;
// a service message is delivered only when its channel is open and negotiated; anything else
// is answered with the spec's error status (requests) or dropped (responses, notifications)
// and counted, per channel and on the link.
//
// Concurrency contract: event-loop thread only (HostServices calls it under its own lock).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "integration/link.h"
#include "integration/protocol.h"

namespace kvpc {

struct ServiceOffer {
  uint16_t channel_id;
  uint16_t service_id;
  uint16_t min_version;
  uint16_t max_version;
};

// The services kvpc offers, in OFFER order. channel_id == service_id today (spec section 5).
inline constexpr std::array<ServiceOffer, 4> kServiceOffers{{
    {proto::kHeartbeatChannel, proto::kServiceHeartbeat, 1, 1},
    {proto::kOsInfoChannel, proto::kServiceOsInfo, 1, 1},
    {proto::kShutdownChannel, proto::kServiceShutdown, 1, 1},
    {proto::kTimeSyncChannel, proto::kServiceTimeSync, 1, 1},
}};

enum class ChannelState { kClosed, kOpen, kReady };

struct ChannelStatus {
  ChannelState state = ChannelState::kClosed;
  uint16_t version = 0;        // negotiated version when kReady
  uint64_t messages = 0;       // messages routed to this channel
  uint64_t errors = 0;         // messages refused on this channel
};

class ChannelTable {
 public:
  class Events {
   public:
    virtual ~Events() = default;
    // A valid HELLO (the table has already closed every channel: a new agent starts afresh).
    virtual void on_hello(const proto::HelloRequest& hello) = 0;
    virtual void on_channel_ready(uint16_t channel) = 0;
    // A ready or open channel was closed by the guest.
    virtual void on_channel_closed(uint16_t channel) = 0;
  };

  enum class Route { kHandled, kDeliver };

  explicit ChannelTable(LinkPort& port) : port_(port) {}

  // kDeliver: a service message on a ready channel, for the service to handle.
  // kHandled: answered, dropped or counted here.
  Route route(const proto::Message& message, Events& events);
  // Link down: every channel closed, no HELLO seen.
  void reset();

  bool hello_seen() const { return hello_seen_; }
  bool ready(uint16_t channel) const;
  // nullopt for a channel kvpc does not offer.
  std::optional<ChannelStatus> status(uint16_t channel) const;
  uint64_t control_errors() const { return control_errors_; }

  // Answers a request with `status` and an empty body, counting `error`; drops (and counts)
  // anything that is not a request. Shared by the services for their own refusals.
  static void refuse(LinkPort& port, const proto::Message& message, HRESULT status, proto::LinkError error);

 private:
  void handle_control(const proto::Message& message, Events& events);
  void handle_hello(const proto::Message& message, Events& events);
  void handle_open(const proto::Message& message);
  void handle_close(const proto::Message& message, Events& events);
  void handle_negotiate(const proto::Message& message, Events& events);
  // The slot of a channel kvpc offers, or nullptr.
  ChannelStatus* find(uint16_t channel);
  // OPEN/CLOSE name a channel in their body: decodes it (refusing malformed bodies and
  // unknown channels, so the caller just returns on nullptr) and sets `id`.
  ChannelStatus* channel_named_by(const proto::Message& message, uint16_t& id);
  const ServiceOffer* offer(uint16_t channel) const;
  void reply(const proto::Message& request, HRESULT status, std::span<const uint8_t> body);
  void refuse_control(const proto::Message& message, HRESULT status, proto::LinkError error);

  LinkPort& port_;
  bool hello_seen_ = false;
  std::array<ChannelStatus, kServiceOffers.size()> channels_{};
  uint64_t control_errors_ = 0;
};

}  // namespace kvpc
