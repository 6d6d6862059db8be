// The kvpc integration protocol, version 1 (docs/integration-protocol.md): every constant of
// the spec, the packet and message headers, and bounds-checked encoders/decoders.
//
// integration/protocol/protocol.inc repeats every constant for the nasm guest agent; a unit
// test parses it and checks each value against this header, so change both together.
//
// Concurrency contract: everything here is a pure function of its arguments (no state).
// Decoders never read outside the span they are given and never trust a length before
// checking it against what remains.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "integration/guest_services.h"
#include "integration/hresult.h"

namespace kvpc::proto {

// --- Section 1: the PCI function -----------------------------------------------------------
inline constexpr uint16_t kVendorId = 0x6B76;  // "kv": project-local, not PCI-SIG assigned
inline constexpr uint16_t kDeviceId = 0x4943;  // "IC"
inline constexpr uint8_t kRevision = 1;
inline constexpr uint32_t kClassCode = 0x088000;  // base system peripheral / other / 0
inline constexpr uint16_t kSubsystemVendorId = 0x6B76;
inline constexpr uint16_t kSubsystemId = 0x0001;
inline constexpr uint32_t kBar0Size = 64;  // I/O ports
inline constexpr uint16_t kDefaultBar0Port = 0xC000;
inline constexpr uint8_t kInterruptPinIntA = 1;

// BAR0 register offsets.
inline constexpr uint32_t kRegMagic = 0x00;
inline constexpr uint32_t kRegDeviceVersion = 0x04;
inline constexpr uint32_t kRegRingGpaLo = 0x08;
inline constexpr uint32_t kRegRingGpaHi = 0x0C;
inline constexpr uint32_t kRegRingPages = 0x10;
inline constexpr uint32_t kRegControl = 0x14;
inline constexpr uint32_t kRegDoorbell = 0x18;
inline constexpr uint32_t kRegIsr = 0x1C;
inline constexpr uint32_t kRegStatus = 0x20;
inline constexpr uint32_t kRegErrorCount = 0x24;

inline constexpr uint32_t kMagic = 0x4349564B;  // "KVIC"
inline constexpr uint32_t kDeviceVersion = 1;
inline constexpr uint32_t kControlAttach = 1;
inline constexpr uint32_t kControlReset = 2;
inline constexpr uint32_t kIsrRx = 0x1;
inline constexpr uint32_t kIsrReset = 0x2;
inline constexpr uint32_t kStatusAttached = 0x1;
inline constexpr uint32_t kStatusErrorShift = 8;
inline constexpr uint32_t kStatusErrorMask = 0xFF00;

// --- Section 2: the ring area --------------------------------------------------------------
inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kMinRingPages = 3;
inline constexpr uint32_t kMaxRingPages = 64;
inline constexpr uint32_t kTxWriteOffset = 0x00;
inline constexpr uint32_t kTxReadOffset = 0x04;
inline constexpr uint32_t kRxWriteOffset = 0x40;
inline constexpr uint32_t kRxReadOffset = 0x44;
inline constexpr uint32_t kRxInterruptMaskOffset = 0x48;

// --- Section 3: packets ---------------------------------------------------------------------
inline constexpr uint32_t kPacketHeaderSize = 8;
inline constexpr uint32_t kPacketAlignment = 8;
inline constexpr uint32_t kMinPayload = 24;
// A whole packet (header + payload) fits in one page, the data size of the smallest ring.
inline constexpr uint32_t kMaxPayload = kPageSize - kPacketHeaderSize;  // 4088
inline constexpr uint32_t kMaxPacket = kPageSize;
// Field offsets inside a packet header.
inline constexpr uint32_t kPacketChannelOffset = 0;
inline constexpr uint32_t kPacketReservedOffset = 2;
inline constexpr uint32_t kPacketLengthOffset = 4;

// --- Section 4: messages --------------------------------------------------------------------
inline constexpr uint32_t kMessageHeaderSize = 24;
inline constexpr uint16_t kFrameworkVersion = 1;
inline constexpr uint16_t kMessageVersion = 1;
inline constexpr uint16_t kFlagRequest = 0x1;
inline constexpr uint16_t kFlagResponse = 0x2;
inline constexpr uint16_t kFlagNotification = 0x4;
inline constexpr uint32_t kMaxBody = kMaxPayload - kMessageHeaderSize;  // 4064
// Field offsets inside a message header.
inline constexpr uint32_t kHeaderFrameworkOffset = 0;
inline constexpr uint32_t kHeaderTypeOffset = 2;
inline constexpr uint32_t kHeaderVersionOffset = 4;
inline constexpr uint32_t kHeaderFlagsOffset = 6;
inline constexpr uint32_t kHeaderSizeOffset = 8;
inline constexpr uint32_t kHeaderStatusOffset = 12;
inline constexpr uint32_t kHeaderTransactionOffset = 16;
inline constexpr uint32_t kHeaderReservedOffset = 20;

// --- Section 5: control channel, channels and services --------------------------------------
inline constexpr uint16_t kControlChannel = 0;
inline constexpr uint16_t kHeartbeatChannel = 1;
inline constexpr uint16_t kOsInfoChannel = 2;
inline constexpr uint16_t kShutdownChannel = 3;
inline constexpr uint16_t kTimeSyncChannel = 4;

inline constexpr uint16_t kServiceHeartbeat = 1;
inline constexpr uint16_t kServiceOsInfo = 2;
inline constexpr uint16_t kServiceShutdown = 3;
inline constexpr uint16_t kServiceTimeSync = 4;

inline constexpr uint16_t kMsgHello = 1;
inline constexpr uint16_t kMsgOffer = 2;
inline constexpr uint16_t kMsgOpen = 3;
inline constexpr uint16_t kMsgClose = 4;
inline constexpr uint16_t kMsgNegotiate = 5;

inline constexpr uint32_t kHostVersion = 1;
inline constexpr uint32_t kAgentNameSize = 32;

// HELLO.features bits: defined once, in guest_services.h (the API sees them there).
using ::kvpc::kFeatureHeartbeat;
using ::kvpc::kFeatureLogoff;
using ::kvpc::kFeatureOsInfo;
using ::kvpc::kFeatureRestart;
using ::kvpc::kFeatureSessionList;
using ::kvpc::kFeatureShutdown;
using ::kvpc::kFeatureTimeSync;

// --- Section 6: service messages -------------------------------------------------------------
inline constexpr uint16_t kMsgBeat = 1;
inline constexpr uint16_t kMsgOsInfoGet = 1;
inline constexpr uint16_t kMsgOsInfoChanged = 2;
inline constexpr uint16_t kMsgShutdown = 1;
inline constexpr uint16_t kMsgRestart = 2;
inline constexpr uint16_t kMsgLogoff = 3;
inline constexpr uint16_t kMsgProgress = 4;
inline constexpr uint16_t kMsgComplete = 5;
inline constexpr uint16_t kMsgSessions = 6;
inline constexpr uint16_t kMsgSessionChanged = 7;
inline constexpr uint16_t kMsgTime = 1;
inline constexpr uint32_t kShutdownFlagForced = 0x1;
inline constexpr uint32_t kSessionNameSize = 32;
inline constexpr uint32_t kMaxSessions = (kMaxBody - 4) / kSessionNameSize;  // 126

// --- Section 7: limits and error codes --------------------------------------------------------
inline constexpr uint32_t kMaxPacketsPerDoorbell = 256;
inline constexpr uint32_t kMaxQueuedMessages = 64;

// STATUS bits 8-15 and the per-code counters.
enum class LinkError : uint8_t {
  kNone = 0,
  kAttach = 1,              // ATTACH with a bad RING_GPA/RING_PAGES
  kTxIndices = 2,           // tx_write - tx_read > data size
  kPacketLength = 3,        // payload length < 24 or > 4088, or longer than what the ring holds
  kMessageSize = 4,         // message size disagrees with the packet length
  kUnknownChannel = 5,      // a channel kvpc never offered
  kChannelNotReady = 6,     // a service message before OPEN + NEGOTIATE
  kUnknownMessage = 7,      // a message type the channel does not define
  kMalformedMessage = 8,    // bad framework version, flags, reserved field or body
  kRxOverflow = 9,          // a message dropped because the RX queue was full
  kRxIndices = 10,          // rx_write - rx_read > data size
  kUnexpectedMessage = 11,  // a response or notification that matches nothing in flight
};
inline constexpr size_t kLinkErrorCount = 12;
std::string_view link_error_name(LinkError error);

// --- Headers ------------------------------------------------------------------------------------
struct PacketHeader {
  uint16_t channel = 0;
  uint16_t reserved = 0;
  uint32_t length = 0;  // payload bytes
};

struct MessageHeader {
  uint16_t framework_version = kFrameworkVersion;
  uint16_t type = 0;
  uint16_t version = kMessageVersion;
  uint16_t flags = 0;
  uint32_t size = 0;  // body bytes
  HRESULT status = S_OK;
  uint32_t transaction_id = 0;
  uint32_t reserved = 0;

  bool is_request() const { return flags == kFlagRequest; }
  bool is_response() const { return flags == kFlagResponse; }
  bool is_notification() const { return flags == kFlagNotification; }
};

// A decoded message whose body has been copied out of guest memory.
struct Message {
  uint16_t channel = 0;
  MessageHeader header;
  std::vector<uint8_t> body;
};

// Packet size in the ring (header + payload + padding to 8) for a payload length.
constexpr uint32_t padded_packet_size(uint32_t payload_length) {
  return (kPacketHeaderSize + payload_length + kPacketAlignment - 1) & ~(kPacketAlignment - 1);
}

std::optional<PacketHeader> decode_packet_header(std::span<const uint8_t> bytes);
// Only decodes; see validate_message for what makes a header acceptable.
std::optional<MessageHeader> decode_message_header(std::span<const uint8_t> bytes);

// What is wrong with a payload, checked in the spec's order.
enum class PayloadCheck { kOk, kSizeMismatch, kMalformed };
// payload = message header + body. kSizeMismatch when header.size != payload.size() - 24;
// kMalformed for a wrong framework version, not exactly one flag, or a nonzero reserved field.
PayloadCheck validate_payload(std::span<const uint8_t> payload, MessageHeader* header_out);

// The whole packet as it goes into a ring: packet header, message header, body, zero padding.
// Empty when the body is larger than kMaxBody.
std::vector<uint8_t> encode_packet(uint16_t channel, const MessageHeader& header,
                                   std::span<const uint8_t> body);
// A message header for `body_size` bytes of body.
MessageHeader make_header(uint16_t type, uint16_t flags, uint32_t transaction_id, uint32_t body_size,
                          HRESULT status = S_OK);

// --- Little-endian body readers and writers ------------------------------------------------------
// ByteReader: every get fails (returns nullopt / false) instead of reading past the end, and a
// failed read leaves the position unchanged.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  std::optional<uint16_t> u16();
  std::optional<uint32_t> u32();
  std::optional<uint64_t> u64();
  // A char[size] field: the text up to the first NUL, control bytes replaced by '?'.
  std::optional<std::string> fixed_string(size_t size);
  size_t remaining() const { return bytes_.size() - position_; }
  std::span<const uint8_t> rest() const { return bytes_.subspan(position_); }

 private:
  std::optional<uint64_t> little_endian(size_t size);
  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
};

class ByteWriter {
 public:
  ByteWriter& u16(uint16_t value);
  ByteWriter& u32(uint32_t value);
  ByteWriter& u64(uint64_t value);
  // A char[size] field: truncated to size - 1 characters so it stays NUL-terminated.
  ByteWriter& fixed_string(std::string_view text, size_t size);
  ByteWriter& bytes(std::span<const uint8_t> data);
  const std::vector<uint8_t>& data() const { return data_; }
  std::vector<uint8_t> take() { return std::move(data_); }

 private:
  std::vector<uint8_t> data_;
};

// --- Message bodies ----------------------------------------------------------------------------------
struct HelloRequest {
  uint32_t agent_version = 0;
  uint32_t features = 0;
  std::string agent_name;
};
struct HelloResponse {
  uint32_t host_version = kHostVersion;
  uint32_t offer_count = 0;
};
struct Offer {
  uint16_t channel_id = 0;
  uint16_t service_id = 0;
  uint16_t min_version = 0;
  uint16_t max_version = 0;
};
// OPEN and CLOSE requests and responses.
struct ChannelRef {
  uint16_t channel_id = 0;
};
struct NegotiateRequest {
  uint16_t channel_id = 0;
  uint16_t min_version = 0;
  uint16_t max_version = 0;
};
struct NegotiateResponse {
  uint16_t channel_id = 0;
  uint16_t chosen_version = 0;
};
struct OperationAck {
  uint32_t sessions_found = 0;
};
struct Progress {
  uint32_t request_transaction_id = 0;
  uint32_t done = 0;
  uint32_t total = 0;
  std::string session_name;
};
struct Complete {
  uint32_t request_transaction_id = 0;
};

std::vector<uint8_t> encode(const HelloRequest& body);
std::vector<uint8_t> encode(const HelloResponse& body);
std::vector<uint8_t> encode(const Offer& body);
std::vector<uint8_t> encode(const ChannelRef& body);
std::vector<uint8_t> encode(const NegotiateRequest& body);
std::vector<uint8_t> encode(const NegotiateResponse& body);
std::vector<uint8_t> encode(const OperationAck& body);
std::vector<uint8_t> encode(const Progress& body);
std::vector<uint8_t> encode(const Complete& body);
std::vector<uint8_t> encode_u32(uint32_t value);
std::vector<uint8_t> encode_u64(uint64_t value);
// SESSIONS response / SESSION_CHANGED: u32 count, count x char[32]. Caps at kMaxSessions.
std::vector<uint8_t> encode_session_list(const std::vector<std::string>& names);
// os-info: "key=value\0" back to back.
std::vector<uint8_t> encode_key_values(const std::vector<std::pair<std::string, std::string>>& pairs);

// Decoders accept a body at least as long as the structure (longer bodies leave room for
// later message versions) and fail on anything shorter.
std::optional<HelloRequest> decode_hello_request(std::span<const uint8_t> body);
std::optional<HelloResponse> decode_hello_response(std::span<const uint8_t> body);
std::optional<Offer> decode_offer(std::span<const uint8_t> body);
std::optional<ChannelRef> decode_channel_ref(std::span<const uint8_t> body);
std::optional<NegotiateRequest> decode_negotiate_request(std::span<const uint8_t> body);
std::optional<NegotiateResponse> decode_negotiate_response(std::span<const uint8_t> body);
std::optional<OperationAck> decode_operation_ack(std::span<const uint8_t> body);
std::optional<Progress> decode_progress(std::span<const uint8_t> body);
std::optional<Complete> decode_complete(std::span<const uint8_t> body);
std::optional<uint64_t> decode_u64(std::span<const uint8_t> body);
// Fails when count exceeds kMaxSessions or the names it announces are not all there.
std::optional<std::vector<std::string>> decode_session_list(std::span<const uint8_t> body);

// os-info limits: a hostile agent cannot make the host keep more than this.
inline constexpr size_t kMaxKeyValuePairs = 64;
inline constexpr size_t kMaxKeyLength = 64;
inline constexpr size_t kMaxValueLength = 256;
struct KeyValueParse {
  std::vector<std::pair<std::string, std::string>> pairs;
  uint32_t rejected = 0;  // entries skipped: no '=', empty or long key, long value, over the cap, unterminated
};
KeyValueParse decode_key_values(std::span<const uint8_t> body);

}  // namespace kvpc::proto
