// The integration protocol as the Linux agent speaks it (docs/integration-protocol.md).
//
// Written independently of the host's integration/protocol.*: the agent is a separate static
// binary with no kvpc libraries in it, and two implementations of the same page check each
// other in tests/unit/agent. Everything is little-endian; x86 is too, so fields are copied
// with memcpy.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace kvpc::agent::wire {

// --- BAR0 registers (section 1) -----------------------------------------------------------------
inline constexpr uint16_t kVendorId = 0x6B76;
inline constexpr uint16_t kDeviceId = 0x4943;
inline constexpr uint32_t kMagic = 0x4349564B;  // "KVIC"
inline constexpr uint32_t kRegMagic = 0x00;
inline constexpr uint32_t kRegRingGpaLo = 0x08;
inline constexpr uint32_t kRegRingGpaHi = 0x0C;
inline constexpr uint32_t kRegRingPages = 0x10;
inline constexpr uint32_t kRegControl = 0x14;
inline constexpr uint32_t kRegDoorbell = 0x18;
inline constexpr uint32_t kRegIsr = 0x1C;
inline constexpr uint32_t kRegStatus = 0x20;
inline constexpr uint32_t kControlAttach = 1;
inline constexpr uint32_t kControlReset = 2;
inline constexpr uint32_t kIsrRx = 0x1;
inline constexpr uint32_t kIsrReset = 0x2;
inline constexpr uint32_t kStatusAttached = 0x1;

// --- Ring area (section 2) ----------------------------------------------------------------------
inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kMinRingPages = 3;
inline constexpr uint32_t kMaxRingPages = 64;
inline constexpr uint32_t kTxWrite = 0x00;
inline constexpr uint32_t kTxRead = 0x04;
inline constexpr uint32_t kRxWrite = 0x40;
inline constexpr uint32_t kRxRead = 0x44;
inline constexpr uint32_t kRxInterruptMask = 0x48;

// --- Packets and messages (sections 3, 4) -------------------------------------------------------
inline constexpr uint32_t kPacketHeaderSize = 8;
inline constexpr uint32_t kMessageHeaderSize = 24;
inline constexpr uint32_t kMinPayload = kMessageHeaderSize;
inline constexpr uint32_t kMaxPayload = 4088;
inline constexpr uint32_t kMaxBody = kMaxPayload - kMessageHeaderSize;
inline constexpr uint16_t kFrameworkVersion = 1;
inline constexpr uint16_t kFlagRequest = 0x1;
inline constexpr uint16_t kFlagResponse = 0x2;
inline constexpr uint16_t kFlagNotification = 0x4;

// --- Control channel and services (sections 5, 6) ----------------------------------------------
inline constexpr uint16_t kControlChannel = 0;
inline constexpr uint16_t kMsgHello = 1;
inline constexpr uint16_t kMsgOffer = 2;
inline constexpr uint16_t kMsgOpen = 3;
inline constexpr uint16_t kMsgNegotiate = 5;
inline constexpr uint16_t kServiceHeartbeat = 1;
inline constexpr uint16_t kServiceOsInfo = 2;
inline constexpr uint16_t kServiceShutdown = 3;
inline constexpr uint16_t kServiceTimeSync = 4;
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
inline constexpr uint32_t kShutdownForced = 0x1;
inline constexpr uint32_t kFeatureHeartbeat = 0x01;
inline constexpr uint32_t kFeatureOsInfo = 0x02;
inline constexpr uint32_t kFeatureShutdown = 0x04;
inline constexpr uint32_t kFeatureRestart = 0x08;
inline constexpr uint32_t kFeatureLogoff = 0x10;
inline constexpr uint32_t kFeatureTimeSync = 0x20;
inline constexpr uint32_t kFeatureSessionList = 0x40;
inline constexpr uint32_t kAllFeatures = 0x7F;
inline constexpr uint32_t kAgentNameSize = 32;
inline constexpr uint32_t kSessionNameSize = 32;
inline constexpr uint32_t kMaxSessionsInList = 126;

// HRESULTs the agent sends.
inline constexpr uint32_t kSOk = 0;
inline constexpr uint32_t kENotImpl = 0x80004001;
inline constexpr uint32_t kEInvalidArg = 0x80070057;
inline constexpr uint32_t kENoSuchLogonSession = 0x80070520;
inline constexpr uint32_t kEFail = 0x80004005;

inline constexpr uint32_t padded(uint32_t length) { return (kPacketHeaderSize + length + 7) & ~7u; }

inline uint16_t get16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t get64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

struct Header {
  uint16_t framework = kFrameworkVersion;
  uint16_t type = 0;
  uint16_t version = 1;
  uint16_t flags = 0;
  uint32_t size = 0;
  uint32_t status = 0;
  uint32_t transaction = 0;
  uint32_t reserved = 0;
};

// A message received from the host: channel, header and body (already length-checked).
struct Message {
  uint16_t channel = 0;
  Header header;
  std::vector<uint8_t> body;
};

// Appends little-endian fields to a body.
class BodyWriter {
 public:
  BodyWriter& u16(uint16_t v) { return raw(&v, 2); }
  BodyWriter& u32(uint32_t v) { return raw(&v, 4); }
  BodyWriter& u64(uint64_t v) { return raw(&v, 8); }
  // A fixed-size NUL-padded field (truncated to size - 1 bytes so it always ends in NUL).
  BodyWriter& fixed(std::string_view text, size_t size) {
    size_t n = text.size() < size ? text.size() : size - 1;
    size_t at = bytes_.size();
    bytes_.resize(at + size, 0);
    std::memcpy(bytes_.data() + at, text.data(), n);
    return *this;
  }
  BodyWriter& cstring(std::string_view text) {
    raw(text.data(), text.size());
    bytes_.push_back(0);
    return *this;
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }
  size_t size() const { return bytes_.size(); }

 private:
  BodyWriter& raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

// A whole padded packet: packet header, message header, body, zero padding.
std::vector<uint8_t> encode_packet(uint16_t channel, const Header& header, const std::vector<uint8_t>& body);

// Parses one payload (the bytes after the packet header). False when the message header is
// malformed per section 4: framework version, not exactly one flag, reserved, or size != length - 24.
bool decode_payload(const uint8_t* payload, uint32_t length, Header* header);

}  // namespace kvpc::agent::wire
