#include "guest-agent/linux/wire.h"

namespace kvpc::agent::wire {

std::vector<uint8_t> encode_packet(uint16_t channel, const Header& header, const std::vector<uint8_t>& body) {
  uint32_t length = kMessageHeaderSize + static_cast<uint32_t>(body.size());
  std::vector<uint8_t> packet(padded(length), 0);
  uint8_t* p = packet.data();
  std::memcpy(p + 0, &channel, 2);
  std::memcpy(p + 4, &length, 4);
  Header h = header;
  h.size = static_cast<uint32_t>(body.size());
  uint8_t* m = p + kPacketHeaderSize;
  std::memcpy(m + 0, &h.framework, 2);
  std::memcpy(m + 2, &h.type, 2);
  std::memcpy(m + 4, &h.version, 2);
  std::memcpy(m + 6, &h.flags, 2);
  std::memcpy(m + 8, &h.size, 4);
  std::memcpy(m + 12, &h.status, 4);
  std::memcpy(m + 16, &h.transaction, 4);
  std::memcpy(m + 20, &h.reserved, 4);
  if (!body.empty()) std::memcpy(m + kMessageHeaderSize, body.data(), body.size());
  return packet;
}

bool decode_payload(const uint8_t* payload, uint32_t length, Header* header) {
  if (length < kMessageHeaderSize) return false;
  header->framework = get16(payload + 0);
  header->type = get16(payload + 2);
  header->version = get16(payload + 4);
  header->flags = get16(payload + 6);
  header->size = get32(payload + 8);
  header->status = get32(payload + 12);
  header->transaction = get32(payload + 16);
  header->reserved = get32(payload + 20);
  if (header->framework != kFrameworkVersion || header->reserved != 0) return false;
  if (header->flags != kFlagRequest && header->flags != kFlagResponse && header->flags != kFlagNotification) {
    return false;
  }
  return header->size == length - kMessageHeaderSize;
}

}  // namespace kvpc::agent::wire
