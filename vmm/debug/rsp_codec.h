// The GDB remote serial protocol's framing: `$payload#cs` packets with a two-digit hex
// checksum (sum of the payload bytes mod 256), `+`/`-` acknowledgements, the lone 0x03
// byte that means "interrupt", and `}` escapes (next byte XOR 0x20) for `#`, `$`, `}`, `*`.
//
// RspDecoder is a pure byte-at-a-time state machine: whatever arrives (garbage, bad
// checksums, packets longer than kMaxPacketPayload, a `$` in the middle of a packet) turns
// into events, never into a crash or unbounded memory. Not thread-safe: one per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvpc::gdb {

// The largest payload the stub accepts (advertised to gdb as PacketSize).
inline constexpr size_t kMaxPacketPayload = 16384;

class RspDecoder {
 public:
  enum class Kind {
    kPacket,       // a well-formed packet; `payload` holds it unescaped
    kInterrupt,    // 0x03 between packets (gdb's Ctrl-C)
    kAck,          // '+'
    kNak,          // '-': resend the last packet
    kBadChecksum,  // a complete packet whose checksum did not match (answer '-')
    kOverflow,     // a packet longer than kMaxPacketPayload; dropped (answer '-')
  };
  struct Event {
    Kind kind;
    std::string payload;
  };

  // Decodes `bytes`, appending one event per complete item to `out`.
  void feed(std::span<const uint8_t> bytes, std::vector<Event>& out);
  void feed(std::string_view bytes, std::vector<Event>& out) {
    feed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), out);
  }

 private:
  enum class State { kIdle, kPayload, kEscape, kChecksumHigh, kChecksumLow };
  State state_ = State::kIdle;
  std::string payload_;
  uint8_t sum_ = 0;        // over the bytes as sent (escapes included), as the protocol defines
  int checksum_high_ = 0;
  bool overflow_ = false;
};

// `$payload#cs` with the bytes that need it escaped.
std::string rsp_frame(std::string_view payload);

// Hex helpers for packet fields.
std::string to_hex(std::span<const uint8_t> bytes);
std::string to_hex(std::string_view text);
// Big-endian hex number as gdb writes addresses and lengths ("7fff0010"); at most 16 digits.
std::optional<uint64_t> parse_hex_number(std::string_view text);
// Pairs of hex digits to bytes; nullopt on odd length or a non-hex digit.
std::optional<std::vector<uint8_t>> parse_hex_bytes(std::string_view text);
int hex_digit_value(char c);  // -1 if not a hex digit

}  // namespace kvpc::gdb
