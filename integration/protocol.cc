#include "integration/protocol.h"

#include <algorithm>


namespace kvpc::proto {

static_assert(padded_packet_size(kMaxPayload) == kMaxPacket);
static_assert(padded_packet_size(kMinPayload) == 32);

std::string_view link_error_name(LinkError error) {
  switch (error) {
    case LinkError::kNone: return "none";
    case LinkError::kAttach: return "attach";
    case LinkError::kTxIndices: return "tx-indices";
    case LinkError::kPacketLength: return "packet-length";
    case LinkError::kMessageSize: return "message-size";
    case LinkError::kUnknownChannel: return "unknown-channel";
    case LinkError::kChannelNotReady: return "channel-not-ready";
    case LinkError::kUnknownMessage: return "unknown-message";
    case LinkError::kMalformedMessage: return "malformed-message";
    case LinkError::kRxOverflow: return "rx-overflow";
    case LinkError::kRxIndices: return "rx-indices";
    case LinkError::kUnexpectedMessage: return "unexpected-message";
  }
  return "unknown";
}

// --- ByteReader / ByteWriter ---------------------------------------------------------------------

std::optional<uint64_t> ByteReader::little_endian(size_t size) {
  if (remaining() < size) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) value |= uint64_t{bytes_[position_ + i]} << (8 * i);
  position_ += size;
  return value;
}

std::optional<uint16_t> ByteReader::u16() {
  auto value = little_endian(2);
  if (!value) return std::nullopt;
  return static_cast<uint16_t>(*value);
}

std::optional<uint32_t> ByteReader::u32() {
  auto value = little_endian(4);
  if (!value) return std::nullopt;
  return static_cast<uint32_t>(*value);
}

std::optional<uint64_t> ByteReader::u64() { return little_endian(8); }

std::optional<std::string> ByteReader::fixed_string(size_t size) {
  if (remaining() < size) return std::nullopt;
  std::string text;
  for (size_t i = 0; i < size; ++i) {
    uint8_t c = bytes_[position_ + i];
    if (c == 0) break;
    // Names end up in logs and API strings: no terminal escapes from a hostile guest.
    text.push_back((c < 0x20 || c == 0x7F) ? '?' : static_cast<char>(c));
  }
  position_ += size;
  return text;
}

ByteWriter& ByteWriter::u16(uint16_t value) {
  data_.push_back(static_cast<uint8_t>(value));
  data_.push_back(static_cast<uint8_t>(value >> 8));
  return *this;
}

ByteWriter& ByteWriter::u32(uint32_t value) {
  for (int i = 0; i < 4; ++i) data_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  return *this;
}

ByteWriter& ByteWriter::u64(uint64_t value) {
  for (int i = 0; i < 8; ++i) data_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  return *this;
}

ByteWriter& ByteWriter::fixed_string(std::string_view text, size_t size) {
  if (size == 0) return *this;
  size_t copied = std::min(text.size(), size - 1);
  data_.insert(data_.end(), text.begin(), text.begin() + static_cast<std::ptrdiff_t>(copied));
  data_.insert(data_.end(), size - copied, 0);
  return *this;
}

ByteWriter& ByteWriter::bytes(std::span<const uint8_t> data) {
  data_.insert(data_.end(), data.begin(), data.end());
  return *this;
}

// --- Headers ---------------------------------------------------------------------------------------

std::optional<PacketHeader> decode_packet_header(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes);
  auto channel = reader.u16();
  auto reserved = reader.u16();
  auto length = reader.u32();
  if (!channel || !reserved || !length) return std::nullopt;
  return PacketHeader{*channel, *reserved, *length};
}

std::optional<MessageHeader> decode_message_header(std::span<const uint8_t> bytes) {
  ByteReader reader(bytes);
  auto framework = reader.u16();
  auto type = reader.u16();
  auto version = reader.u16();
  auto flags = reader.u16();
  auto size = reader.u32();
  auto status = reader.u32();
  auto transaction = reader.u32();
  auto reserved = reader.u32();
  if (!reserved) return std::nullopt;  // every earlier read succeeded if the last one did
  return MessageHeader{*framework, *type, *version, *flags, *size, static_cast<HRESULT>(*status), *transaction,
                       *reserved};
}

PayloadCheck validate_payload(std::span<const uint8_t> payload, MessageHeader* header_out) {
  auto header = decode_message_header(payload);
  if (!header) return PayloadCheck::kSizeMismatch;
  if (uint64_t{header->size} + kMessageHeaderSize != payload.size()) return PayloadCheck::kSizeMismatch;
  if (header_out != nullptr) *header_out = *header;
  bool one_flag = header->flags == kFlagRequest || header->flags == kFlagResponse ||
                  header->flags == kFlagNotification;
  if (header->framework_version != kFrameworkVersion || !one_flag || header->reserved != 0) {
    return PayloadCheck::kMalformed;
  }
  return PayloadCheck::kOk;
}

MessageHeader make_header(uint16_t type, uint16_t flags, uint32_t transaction_id, uint32_t body_size,
                          HRESULT status) {
  MessageHeader header;
  header.type = type;
  header.flags = flags;
  header.transaction_id = transaction_id;
  header.size = body_size;
  header.status = status;
  return header;
}

std::vector<uint8_t> encode_packet(uint16_t channel, const MessageHeader& header, std::span<const uint8_t> body) {
  if (body.size() > kMaxBody) return {};
  uint32_t payload_length = kMessageHeaderSize + static_cast<uint32_t>(body.size());
  ByteWriter writer;
  writer.u16(channel).u16(0).u32(payload_length);
  writer.u16(header.framework_version).u16(header.type).u16(header.version).u16(header.flags);
  writer.u32(header.size).u32(static_cast<uint32_t>(header.status)).u32(header.transaction_id).u32(header.reserved);
  writer.bytes(body);
  std::vector<uint8_t> packet = writer.take();
  packet.resize(padded_packet_size(payload_length), 0);
  return packet;
}

// --- Bodies -------------------------------------------------------------------------------------------

std::vector<uint8_t> encode(const HelloRequest& body) {
  return ByteWriter().u32(body.agent_version).u32(body.features).fixed_string(body.agent_name, kAgentNameSize).take();
}
std::vector<uint8_t> encode(const HelloResponse& body) {
  return ByteWriter().u32(body.host_version).u32(body.offer_count).take();
}
std::vector<uint8_t> encode(const Offer& body) {
  return ByteWriter().u16(body.channel_id).u16(body.service_id).u16(body.min_version).u16(body.max_version).take();
}
std::vector<uint8_t> encode(const ChannelRef& body) { return ByteWriter().u16(body.channel_id).u16(0).take(); }
std::vector<uint8_t> encode(const NegotiateRequest& body) {
  return ByteWriter().u16(body.channel_id).u16(body.min_version).u16(body.max_version).u16(0).take();
}
std::vector<uint8_t> encode(const NegotiateResponse& body) {
  return ByteWriter().u16(body.channel_id).u16(body.chosen_version).take();
}
std::vector<uint8_t> encode(const OperationAck& body) { return encode_u32(body.sessions_found); }
std::vector<uint8_t> encode(const Progress& body) {
  return ByteWriter()
      .u32(body.request_transaction_id)
      .u32(body.done)
      .u32(body.total)
      .fixed_string(body.session_name, kSessionNameSize)
      .take();
}
std::vector<uint8_t> encode(const Complete& body) { return encode_u32(body.request_transaction_id); }
std::vector<uint8_t> encode_u32(uint32_t value) { return ByteWriter().u32(value).take(); }
std::vector<uint8_t> encode_u64(uint64_t value) { return ByteWriter().u64(value).take(); }

std::vector<uint8_t> encode_session_list(const std::vector<std::string>& names) {
  size_t count = std::min<size_t>(names.size(), kMaxSessions);
  ByteWriter writer;
  writer.u32(static_cast<uint32_t>(count));
  for (size_t i = 0; i < count; ++i) writer.fixed_string(names[i], kSessionNameSize);
  return writer.take();
}

std::vector<uint8_t> encode_key_values(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<uint8_t> out;
  for (const auto& [key, value] : pairs) {
    out.insert(out.end(), key.begin(), key.end());
    out.push_back('=');
    out.insert(out.end(), value.begin(), value.end());
    out.push_back(0);
  }
  return out;
}

std::optional<HelloRequest> decode_hello_request(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto version = reader.u32();
  auto features = reader.u32();
  auto name = reader.fixed_string(kAgentNameSize);
  if (!name) return std::nullopt;
  return HelloRequest{*version, *features, std::move(*name)};
}

std::optional<HelloResponse> decode_hello_response(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto version = reader.u32();
  auto count = reader.u32();
  if (!count) return std::nullopt;
  return HelloResponse{*version, *count};
}

std::optional<Offer> decode_offer(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto channel = reader.u16();
  auto service = reader.u16();
  auto min_version = reader.u16();
  auto max_version = reader.u16();
  if (!max_version) return std::nullopt;
  return Offer{*channel, *service, *min_version, *max_version};
}

std::optional<ChannelRef> decode_channel_ref(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto channel = reader.u16();
  auto reserved = reader.u16();
  if (!reserved) return std::nullopt;
  return ChannelRef{*channel};
}

std::optional<NegotiateRequest> decode_negotiate_request(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto channel = reader.u16();
  auto min_version = reader.u16();
  auto max_version = reader.u16();
  auto reserved = reader.u16();
  if (!reserved) return std::nullopt;
  return NegotiateRequest{*channel, *min_version, *max_version};
}

std::optional<NegotiateResponse> decode_negotiate_response(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto channel = reader.u16();
  auto version = reader.u16();
  if (!version) return std::nullopt;
  return NegotiateResponse{*channel, *version};
}

std::optional<OperationAck> decode_operation_ack(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto sessions = reader.u32();
  if (!sessions) return std::nullopt;
  return OperationAck{*sessions};
}

std::optional<Progress> decode_progress(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto transaction = reader.u32();
  auto done = reader.u32();
  auto total = reader.u32();
  auto name = reader.fixed_string(kSessionNameSize);
  if (!name) return std::nullopt;
  return Progress{*transaction, *done, *total, std::move(*name)};
}

std::optional<Complete> decode_complete(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto transaction = reader.u32();
  if (!transaction) return std::nullopt;
  return Complete{*transaction};
}

std::optional<uint64_t> decode_u64(std::span<const uint8_t> body) { return ByteReader(body).u64(); }

std::optional<std::vector<std::string>> decode_session_list(std::span<const uint8_t> body) {
  ByteReader reader(body);
  auto count = reader.u32();
  if (!count || *count > kMaxSessions) return std::nullopt;
  // Check the announced size before allocating anything for it.
  if (reader.remaining() < uint64_t{*count} * kSessionNameSize) return std::nullopt;
  std::vector<std::string> names;
  names.reserve(*count);
  for (uint32_t i = 0; i < *count; ++i) names.push_back(*reader.fixed_string(kSessionNameSize));
  return names;
}

KeyValueParse decode_key_values(std::span<const uint8_t> body) {
  KeyValueParse result;
  size_t start = 0;
  while (start < body.size()) {
    auto nul = std::find(body.begin() + static_cast<std::ptrdiff_t>(start), body.end(), uint8_t{0});
    size_t end = static_cast<size_t>(nul - body.begin());
    if (nul == body.end()) {  // an unterminated last entry is not trusted
      ++result.rejected;
      break;
    }
    std::string_view entry(reinterpret_cast<const char*>(body.data()) + start, end - start);
    start = end + 1;
    if (entry.empty()) continue;  // padding NULs are harmless
    size_t equals = entry.find('=');
    bool printable = std::all_of(entry.begin(), entry.end(),
                                 [](char c) { return static_cast<uint8_t>(c) >= 0x20 && c != 0x7F; });
    if (equals == std::string_view::npos || equals == 0 || equals > kMaxKeyLength ||
        entry.size() - equals - 1 > kMaxValueLength || !printable || result.pairs.size() >= kMaxKeyValuePairs) {
      ++result.rejected;
      continue;
    }
    result.pairs.emplace_back(std::string(entry.substr(0, equals)), std::string(entry.substr(equals + 1)));
  }
  return result;
}

}  // namespace kvpc::proto
