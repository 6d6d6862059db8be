#include "integration/link.h"

#include <algorithm>

#include "vmm/observe.h"

namespace kvpc {

using namespace proto;

void IntegrationLink::poll(Listener& listener) {
  follow_device(listener);
  if (up_) drain(listener);
  flush();
}

void IntegrationLink::follow_device(Listener& listener) {
  IntegrationDevice::LinkState state = device_.link_state();
  if (state.epoch == epoch_) return;
  epoch_ = state.epoch;
  if (up_) {
    up_ = false;
    queue_.clear();  // messages for the old link must not leak into a new one
    tx_ = TxRingReader();
    rx_ = RxRingWriter();
    ++counters_.link_downs;
    listener.on_link_down();
  }
  if (state.area) {
    // Both host indices start at 0 on ATTACH (the guest zeroed the header page); publishing
    // them makes the header consistent even if the guest did not. If the guest has RESET or
    // re-ATTACHed since link_state(), nothing is written and the link stays down: that CONTROL
    // write signalled the doorbell, so the next poll follows the newer epoch.
    RingArea area = *state.area;
    bool current = device_.with_current_link(epoch_, [&] {
      store_index(area.header, kTxReadOffset, 0);
      store_index(area.header, kRxWriteOffset, 0);
    });
    if (!current) return;
    tx_ = TxRingReader(area, 0);
    rx_ = RxRingWriter(area, 0);
    up_ = true;
    ++counters_.link_ups;
    listener.on_link_up();
  }
}

void IntegrationLink::drain(Listener& listener) {
  TxRingReader::Packet packet;
  uint32_t handled = 0;
  for (; handled < kMaxPacketsPerDoorbell; ++handled) {
    // next() copies one packet out and, on bad indices/length, publishes tx_read: both only
    // while our epoch is current (see IntegrationDevice::with_current_link). A stale epoch
    // stops here without publishing; the next poll (already signalled) takes the link down.
    TxRingReader::Outcome outcome = TxRingReader::Outcome::kEmpty;
    if (!device_.with_current_link(epoch_, [&] { outcome = tx_.next(&packet); })) return;
    if (outcome == TxRingReader::Outcome::kEmpty) break;
    if (outcome == TxRingReader::Outcome::kBadIndices) {
      count_error(LinkError::kTxIndices);
      break;
    }
    if (outcome == TxRingReader::Outcome::kBadLength) {
      count_error(LinkError::kPacketLength);
      break;
    }
    ++counters_.packets_received;
    Message message;
    PayloadCheck check = validate_payload(packet.payload, &message.header);
    if (check == PayloadCheck::kSizeMismatch) {
      // The framing can no longer be trusted: throw away everything the guest has queued.
      count_error(LinkError::kMessageSize);
      if (!device_.with_current_link(epoch_, [&] { tx_.discard_all(); })) return;
      break;
    }
    if (check == PayloadCheck::kMalformed || packet.header.reserved != 0) {
      count_error(LinkError::kMalformedMessage);
      continue;
    }
    message.channel = packet.header.channel;
    message.body.assign(packet.payload.begin() + kMessageHeaderSize, packet.payload.end());
    listener.on_message(message);
    if (!up_) return;  // cannot happen today (the epoch only changes in follow_device), but cheap
  }
  if (!device_.with_current_link(epoch_, [&] { tx_.publish(); })) return;
  if (handled == kMaxPacketsPerDoorbell) {
    // More may be waiting: come back after the loop has run its other work.
    ++counters_.polls_truncated;
    device_.signal_doorbell();
  }
}

bool IntegrationLink::send(uint16_t channel, const MessageHeader& header, std::span<const uint8_t> body) {
  if (!up_) return false;
  if (observe::on(observe::kIntegration)) [[unlikely]] {
    observe::integration_message(false, channel, header.type, header.transaction_id, header.size);
  }
  std::vector<uint8_t> packet = encode_packet(channel, header, body);
  if (packet.empty()) return false;
  bool notification = header.is_notification();
  if (queue_.size() >= kMaxQueuedMessages) {
    // Drop the oldest notification: notifications carry state that a newer one replaces.
    auto oldest = std::find_if(queue_.begin(), queue_.end(), [](const Outgoing& o) { return o.notification; });
    ++counters_.messages_dropped;
    count_error(LinkError::kRxOverflow);
    if (oldest == queue_.end()) return false;  // all requests/responses: refuse the new one
    queue_.erase(oldest);
  }
  queue_.push_back(Outgoing{std::move(packet), notification});
  flush();
  return true;
}

void IntegrationLink::flush() {
  if (!up_) return;
  bool wrote = false;
  bool masked = true;
  while (!queue_.empty()) {
    // Packet bytes and rx_write are written under the device mutex, and only while our epoch
    // is current: flush() also runs from the timers, which do not follow ATTACH/RESET, so a
    // guest that re-ATTACHed since our last poll must not get this packet in any ring. The
    // queue is kept; the next poll (signalled by that CONTROL write) drops it with the link.
    RxRingWriter::Outcome outcome = RxRingWriter::Outcome::kFull;
    if (!device_.with_current_link(epoch_, [&] {
          outcome = rx_.write(queue_.front().packet);
          masked = rx_.interrupts_masked();
        })) {
      return;  // no signal_rx either: it would be ignored for a stale epoch
    }
    if (outcome == RxRingWriter::Outcome::kFull) break;
    if (outcome == RxRingWriter::Outcome::kBadIndices) {
      count_error(LinkError::kRxIndices);
      break;
    }
    queue_.pop_front();
    ++counters_.packets_sent;
    wrote = true;
  }
  if (wrote) device_.signal_rx(epoch_, masked);
}

void IntegrationLink::count_error(LinkError error) {
  size_t index = static_cast<size_t>(error);
  if (index < counters_.errors.size()) ++counters_.errors[index];
  device_.count_error(epoch_, error);
}

}  // namespace kvpc
