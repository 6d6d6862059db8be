#include "vmm/debug/rsp_codec.h"

namespace kvpc::gdb {

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void RspDecoder::feed(std::span<const uint8_t> bytes, std::vector<Event>& out) {
  for (uint8_t byte : bytes) {
    const char c = static_cast<char>(byte);
    switch (state_) {
      case State::kIdle:
        // Between packets only acks, the interrupt byte and a packet start mean anything.
        if (c == '$') {
          state_ = State::kPayload;
          payload_.clear();
          sum_ = 0;
          overflow_ = false;
        } else if (byte == 0x03) {
          out.push_back({Kind::kInterrupt, {}});
        } else if (c == '+') {
          out.push_back({Kind::kAck, {}});
        } else if (c == '-') {
          out.push_back({Kind::kNak, {}});
        }
        break;
      case State::kPayload:
      case State::kEscape:
        if (c == '$') {
          // A new packet starts before the old one ended: gdb gave up on it; so do we.
          payload_.clear();
          sum_ = 0;
          overflow_ = false;
          state_ = State::kPayload;
          break;
        }
        if (c == '#' && state_ == State::kPayload) {
          state_ = State::kChecksumHigh;
          break;
        }
        sum_ = static_cast<uint8_t>(sum_ + byte);
        if (state_ == State::kPayload && c == '}') {
          state_ = State::kEscape;
          break;
        }
        if (payload_.size() >= kMaxPacketPayload) {
          overflow_ = true;  // keep counting nothing: wait for '#' and drop the packet
        } else {
          payload_.push_back(state_ == State::kEscape ? static_cast<char>(byte ^ 0x20) : c);
        }
        state_ = State::kPayload;
        break;
      case State::kChecksumHigh: {
        const int v = hex_digit_value(c);
        if (v < 0) {
          out.push_back({Kind::kBadChecksum, {}});
          state_ = c == '$' ? State::kPayload : State::kIdle;
          payload_.clear();
          sum_ = 0;
          overflow_ = false;
          break;
        }
        checksum_high_ = v;
        state_ = State::kChecksumLow;
        break;
      }
      case State::kChecksumLow: {
        const int v = hex_digit_value(c);
        state_ = State::kIdle;
        if (overflow_) {
          out.push_back({Kind::kOverflow, {}});
        } else if (v < 0 || ((checksum_high_ << 4) | v) != sum_) {
          out.push_back({Kind::kBadChecksum, {}});
        } else {
          out.push_back({Kind::kPacket, std::move(payload_)});
        }
        payload_.clear();
        overflow_ = false;
        break;
      }
    }
  }
}

std::string rsp_frame(std::string_view payload) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string framed;
  framed.reserve(payload.size() + 4);
  framed.push_back('$');
  uint8_t sum = 0;
  auto put = [&](char c) {
    framed.push_back(c);
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  };
  for (char c : payload) {
    if (c == '#' || c == '$' || c == '}' || c == '*') {
      put('}');
      put(static_cast<char>(c ^ 0x20));
    } else {
      put(c);
    }
  }
  framed.push_back('#');
  framed.push_back(kHex[sum >> 4]);
  framed.push_back(kHex[sum & 0xF]);
  return framed;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

std::string to_hex(std::string_view text) {
  return to_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::optional<uint64_t> parse_hex_number(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    const int v = hex_digit_value(c);
    if (v < 0) return std::nullopt;
    value = (value << 4) | static_cast<uint64_t>(v);
  }
  return value;
}

std::optional<std::vector<uint8_t>> parse_hex_bytes(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_digit_value(text[i]);
    const int lo = hex_digit_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>((hi << 4) | lo));
  }
  return out;
}

}  // namespace kvpc::gdb
