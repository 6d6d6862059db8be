#include "integration/channels.h"

#include <algorithm>

namespace kvpc {

using namespace proto;

const ServiceOffer* ChannelTable::offer(uint16_t channel) const {
  for (const auto& o : kServiceOffers) {
    if (o.channel_id == channel) return &o;
  }
  return nullptr;
}

ChannelStatus* ChannelTable::find(uint16_t channel) {
  for (size_t i = 0; i < kServiceOffers.size(); ++i) {
    if (kServiceOffers[i].channel_id == channel) return &channels_[i];
  }
  return nullptr;
}

bool ChannelTable::ready(uint16_t channel) const {
  auto s = status(channel);
  return s && s->state == ChannelState::kReady;
}

std::optional<ChannelStatus> ChannelTable::status(uint16_t channel) const {
  for (size_t i = 0; i < kServiceOffers.size(); ++i) {
    if (kServiceOffers[i].channel_id == channel) return channels_[i];
  }
  return std::nullopt;
}

void ChannelTable::reset() {
  hello_seen_ = false;
  for (auto& channel : channels_) {
    channel.state = ChannelState::kClosed;
    channel.version = 0;
  }
}

void ChannelTable::refuse(LinkPort& port, const Message& message, HRESULT status, LinkError error) {
  port.count_error(error);
  if (!message.header.is_request()) return;
  port.send(message.channel, make_header(message.header.type, kFlagResponse, message.header.transaction_id, 0, status),
            {});
}

void ChannelTable::refuse_control(const Message& message, HRESULT status, LinkError error) {
  ++control_errors_;
  refuse(port_, message, status, error);
}

void ChannelTable::reply(const Message& request, HRESULT status, std::span<const uint8_t> body) {
  port_.send(kControlChannel,
             make_header(request.header.type, kFlagResponse, request.header.transaction_id,
                         static_cast<uint32_t>(body.size()), status),
             body);
}

ChannelTable::Route ChannelTable::route(const Message& message, Events& events) {
  if (message.channel == kControlChannel) {
    handle_control(message, events);
    return Route::kHandled;
  }
  ChannelStatus* channel = find(message.channel);
  if (channel == nullptr) {
    refuse_control(message, E_INVALIDARG, LinkError::kUnknownChannel);
    return Route::kHandled;
  }
  ++channel->messages;
  if (channel->state != ChannelState::kReady) {
    ++channel->errors;
    refuse(port_, message, E_INVALID_STATE, LinkError::kChannelNotReady);
    return Route::kHandled;
  }
  return Route::kDeliver;
}

void ChannelTable::handle_control(const Message& message, Events& events) {
  const MessageHeader& header = message.header;
  bool known = header.type >= kMsgHello && header.type <= kMsgNegotiate && header.type != kMsgOffer;
  if (!known) {
    refuse_control(message, E_NOTIMPL, LinkError::kUnknownMessage);
    return;
  }
  if (!header.is_request()) {
    // The host never asks the guest anything on channel 0: a response or notification here
    // answers nothing.
    refuse_control(message, E_NOTIMPL, LinkError::kUnexpectedMessage);
    return;
  }
  if (header.type == kMsgHello) {
    handle_hello(message, events);
    return;
  }
  if (!hello_seen_) {
    refuse_control(message, E_INVALID_STATE, LinkError::kChannelNotReady);
    return;
  }
  switch (header.type) {
    case kMsgOpen: handle_open(message); break;
    case kMsgClose: handle_close(message, events); break;
    case kMsgNegotiate: handle_negotiate(message, events); break;
    default: break;
  }
}

void ChannelTable::handle_hello(const Message& message, Events& events) {
  auto hello = decode_hello_request(message.body);
  if (!hello) {
    refuse_control(message, E_INVALIDARG, LinkError::kMalformedMessage);
    return;
  }
  // A second HELLO is an agent that restarted: whatever it had open is gone.
  reset();
  hello_seen_ = true;
  events.on_hello(*hello);
  reply(message, S_OK, encode(HelloResponse{kHostVersion, static_cast<uint32_t>(kServiceOffers.size())}));
  for (const auto& o : kServiceOffers) {
    auto body = encode(Offer{o.channel_id, o.service_id, o.min_version, o.max_version});
    port_.send(kControlChannel, make_header(kMsgOffer, kFlagNotification, 0, static_cast<uint32_t>(body.size())),
               body);
  }
}

ChannelStatus* ChannelTable::channel_named_by(const Message& message, uint16_t& id) {
  auto ref = decode_channel_ref(message.body);
  if (!ref) {
    refuse_control(message, E_INVALIDARG, LinkError::kMalformedMessage);
    return nullptr;
  }
  id = ref->channel_id;
  ChannelStatus* channel = find(id);
  if (channel == nullptr) refuse_control(message, E_INVALIDARG, LinkError::kUnknownChannel);
  return channel;
}

void ChannelTable::handle_open(const Message& message) {
  uint16_t id = 0;
  ChannelStatus* channel = channel_named_by(message, id);
  if (channel == nullptr) return;
  if (channel->state != ChannelState::kClosed) {
    // Not a protocol error worth a STATUS code: an agent may retry OPEN after a lost response.
    ++control_errors_;
    reply(message, E_BUSY, encode(ChannelRef{id}));
    return;
  }
  channel->state = ChannelState::kOpen;
  reply(message, S_OK, encode(ChannelRef{id}));
}

void ChannelTable::handle_close(const Message& message, Events& events) {
  uint16_t id = 0;
  ChannelStatus* channel = channel_named_by(message, id);
  if (channel == nullptr) return;
  if (channel->state == ChannelState::kClosed) {
    refuse_control(message, E_INVALID_STATE, LinkError::kChannelNotReady);
    return;
  }
  channel->state = ChannelState::kClosed;
  channel->version = 0;
  reply(message, S_OK, encode(ChannelRef{id}));
  events.on_channel_closed(id);
}

void ChannelTable::handle_negotiate(const Message& message, Events& events) {
  auto request = decode_negotiate_request(message.body);
  if (!request) {
    refuse_control(message, E_INVALIDARG, LinkError::kMalformedMessage);
    return;
  }
  ChannelStatus* channel = find(request->channel_id);
  const ServiceOffer* o = offer(request->channel_id);
  if (channel == nullptr || o == nullptr) {
    refuse_control(message, E_INVALIDARG, LinkError::kUnknownChannel);
    return;
  }
  if (channel->state != ChannelState::kOpen) {
    // Closed: OPEN first. Ready: the version cannot change under messages in flight.
    refuse_control(message, E_INVALID_STATE, LinkError::kChannelNotReady);
    return;
  }
  uint16_t low = std::max(o->min_version, request->min_version);
  uint16_t high = std::min(o->max_version, request->max_version);
  if (low > high) {
    ++control_errors_;
    reply(message, E_NOTIMPL, encode(NegotiateResponse{request->channel_id, 0}));
    return;
  }
  channel->state = ChannelState::kReady;
  channel->version = high;
  reply(message, S_OK, encode(NegotiateResponse{request->channel_id, high}));
  events.on_channel_ready(request->channel_id);
}

}  // namespace kvpc
