#include "display/display_wire.h"

#include <cstring>

#include <fmt/format.h>

namespace kvpc::display_wire {
namespace {

const char* type_name(Type type) {
  switch (type) {
    case Type::kReady: return "ready";
    case Type::kError: return "error";
    case Type::kKey: return "key";
    case Type::kMouse: return "mouse";
    case Type::kClose: return "close";
    case Type::kAck: return "ack";
    case Type::kFrame: return "frame";
    case Type::kState: return "state";
    case Type::kQuit: return "quit";
  }
  return "unknown";
}

// Header checks shared by both directions; copies the datagram out (no alignment assumed).
Result<Message> parse_header(const void* data, size_t size) {
  if (size != sizeof(Message)) {
    return make_error(fmt::format("a message of {} bytes (every message is {} bytes)", size, sizeof(Message)));
  }
  Message message;
  std::memcpy(&message, data, sizeof(message));
  if (message.magic != kMagic) return make_error(fmt::format("bad magic 0x{:08x}", message.magic));
  if (message.version != kVersion) {
    return make_error(fmt::format("wire version {} (this kvpc speaks {})", message.version, kVersion));
  }
  if (message.reserved[0] != 0 || message.reserved[1] != 0) return make_error("reserved header bytes are not zero");
  return message;
}

// Text fields must be NUL-terminated inside the field and hold no control characters.
Status check_text(const Message& message) {
  const char* text = message.text.text;
  const void* end = std::memchr(text, 0, kTextBytes);
  if (end == nullptr) return make_error(fmt::format("{} text is not NUL-terminated", type_name(message.type)));
  for (const char* c = text; c != end; ++c) {
    if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7F) {
      return make_error(fmt::format("{} text has a control character", type_name(message.type)));
    }
  }
  return ok_status();
}

Status zero_tail(const Message& message, size_t used) {
  for (size_t i = used; i < sizeof(message.bytes); ++i) {
    if (message.bytes[i] != 0) return make_error(fmt::format("{} message has non-zero unused bytes", type_name(message.type)));
  }
  return ok_status();
}

}  // namespace

Message make(Type type) {
  Message message;
  std::memset(&message, 0, sizeof(message));
  message.magic = kMagic;
  message.version = kVersion;
  message.type = type;
  return message;
}

void set_text(Message& message, const std::string& text) {
  std::memset(message.text.text, 0, kTextBytes);
  size_t n = 0;
  for (char c : text) {
    if (n + 1 >= kTextBytes) break;
    message.text.text[n++] = static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? ' ' : c;
  }
}

std::string text_of(const Message& message) {
  return std::string(message.text.text, strnlen(message.text.text, kTextBytes));
}

Result<Message> parse_from_display(const void* data, size_t size) {
  auto parsed = parse_header(data, size);
  if (!parsed) return parsed;
  const Message& m = *parsed;
  Status fields = ok_status();
  switch (m.type) {
    case Type::kReady: fields = zero_tail(m, 0); break;
    case Type::kError: fields = check_text(m); break;
    case Type::kKey:
      if (m.key.hid_usage > kMaxHidUsage) {
        return make_error(fmt::format("key HID usage {} is out of range (0-{})", m.key.hid_usage, kMaxHidUsage));
      }
      if (m.key.pressed > 1) return make_error(fmt::format("key pressed flag {} is not 0 or 1", m.key.pressed));
      fields = m.key.reserved != 0 ? make_error("key reserved byte is not zero") : zero_tail(m, sizeof(KeyFields));
      break;
    case Type::kMouse:
      if (m.mouse.dx < -kMaxMouseDelta || m.mouse.dx > kMaxMouseDelta || m.mouse.dy < -kMaxMouseDelta ||
          m.mouse.dy > kMaxMouseDelta) {
        return make_error(fmt::format("mouse motion ({}, {}) is out of range (+-{})", m.mouse.dx, m.mouse.dy, kMaxMouseDelta));
      }
      if (m.mouse.buttons > 7) return make_error(fmt::format("mouse buttons 0x{:x} has bits above the middle button", m.mouse.buttons));
      fields = zero_tail(m, offsetof(MouseFields, buttons) + 1);
      break;
    case Type::kClose:
      if (m.close.forced > 1) return make_error(fmt::format("close forced flag {} is not 0 or 1", m.close.forced));
      fields = zero_tail(m, sizeof(CloseFields));
      break;
    case Type::kAck: fields = zero_tail(m, sizeof(AckFields)); break;
    default:
      return make_error(fmt::format("message type {} is not one kvpc-display sends", static_cast<unsigned>(m.type)));
  }
  if (!fields) return fields.error();
  return parsed;
}

Result<Message> parse_from_kvpc(const void* data, size_t size) {
  auto parsed = parse_header(data, size);
  if (!parsed) return parsed;
  const Message& m = *parsed;
  Status fields = ok_status();
  switch (m.type) {
    case Type::kFrame: {
      const FrameFields& f = m.frame;
      if (f.width == 0 || f.height == 0 || f.width > kMaxWidth || f.height > kMaxHeight) {
        return make_error(fmt::format("frame size {}x{} is out of range", f.width, f.height));
      }
      if (f.stride < uint64_t{f.width} * 4 || uint64_t{f.stride} * f.height > kFramebufferBytes) {
        return make_error(fmt::format("frame stride {} does not fit {}x{} in the framebuffer", f.stride, f.width, f.height));
      }
      if (f.first_row > f.last_row || f.last_row > f.height) {
        return make_error(fmt::format("frame rows [{}, {}) are not inside 0-{}", f.first_row, f.last_row, f.height));
      }
      if (f.resized > 1) return make_error("frame resized flag is not 0 or 1");
      fields = zero_tail(m, sizeof(FrameFields));
      break;
    }
    case Type::kState: fields = check_text(m); break;
    case Type::kQuit: fields = zero_tail(m, 0); break;
    default:
      return make_error(fmt::format("message type {} is not one kvpc sends", static_cast<unsigned>(m.type)));
  }
  if (!fields) return fields.error();
  return parsed;
}

}  // namespace kvpc::display_wire
