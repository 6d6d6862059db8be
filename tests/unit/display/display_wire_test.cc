// The wire between kvpc and kvpc-display: what each side accepts, and the reason it gives for
// everything it refuses (kvpc treats the display process as untrusted input).
#include "display/display_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace kvpc::display_wire {
namespace {

std::string refusal_from_display(const Message& message, size_t size = sizeof(Message)) {
  auto parsed = parse_from_display(&message, size);
  return parsed.ok() ? std::string("accepted") : parsed.error().message;
}
std::string refusal_from_kvpc(const Message& message, size_t size = sizeof(Message)) {
  auto parsed = parse_from_kvpc(&message, size);
  return parsed.ok() ? std::string("accepted") : parsed.error().message;
}

Message key(uint16_t usage, uint8_t pressed) {
  Message m = make(Type::kKey);
  m.key.hid_usage = usage;
  m.key.pressed = pressed;
  return m;
}
Message mouse(int32_t dx, int32_t dy, uint8_t buttons) {
  Message m = make(Type::kMouse);
  m.mouse.dx = dx;
  m.mouse.dy = dy;
  m.mouse.buttons = buttons;
  return m;
}
Message frame(uint32_t w, uint32_t h, uint32_t stride, uint32_t first, uint32_t last) {
  Message m = make(Type::kFrame);
  m.frame = {7, w, h, stride, first, last, 0};
  return m;
}

TEST(DisplayWire, EveryMessageTheDisplaySendsRoundTrips) {
  EXPECT_EQ(refusal_from_display(make(Type::kReady)), "accepted");
  EXPECT_EQ(refusal_from_display(key(4, 1)), "accepted");
  EXPECT_EQ(refusal_from_display(key(kMaxHidUsage, 0)), "accepted");
  EXPECT_EQ(refusal_from_display(mouse(-5, 12, 7)), "accepted");
  EXPECT_EQ(refusal_from_display(mouse(-kMaxMouseDelta, kMaxMouseDelta, 0)), "accepted");
  Message close = make(Type::kClose);
  close.close.forced = 1;
  EXPECT_EQ(refusal_from_display(close), "accepted");
  Message ack = make(Type::kAck);
  ack.ack.serial = ~uint64_t{0};
  EXPECT_EQ(refusal_from_display(ack), "accepted");
  Message error = make(Type::kError);
  set_text(error, "cannot open a window: no X server");
  auto parsed = parse_from_display(&error, sizeof(error));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(text_of(*parsed), "cannot open a window: no X server");
  auto parsed_key = parse_from_display(&static_cast<const Message&>(key(40, 1)), sizeof(Message));
  ASSERT_TRUE(parsed_key.ok());
  EXPECT_EQ(parsed_key->key.hid_usage, 40);
  EXPECT_EQ(parsed_key->key.pressed, 1);
}

TEST(DisplayWire, ShortLongAndGarbageDatagramsAreRefused) {
  const Message ready = make(Type::kReady);
  EXPECT_EQ(refusal_from_display(ready, 10), "a message of 10 bytes (every message is 128 bytes)");
  EXPECT_EQ(refusal_from_display(ready, 0), "a message of 0 bytes (every message is 128 bytes)");
  std::vector<uint8_t> longer(sizeof(Message) + 1);
  std::memcpy(longer.data(), &ready, sizeof(ready));
  auto too_long = parse_from_display(longer.data(), longer.size());
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().message, "a message of 129 bytes (every message is 128 bytes)");
  uint8_t junk[sizeof(Message)];
  for (size_t i = 0; i < sizeof(junk); ++i) junk[i] = static_cast<uint8_t>(i * 37 + 11);
  auto garbage = parse_from_display(junk, sizeof(junk));
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("bad magic"), std::string::npos) << garbage.error().message;
}

TEST(DisplayWire, HeaderFieldsAreChecked) {
  Message m = make(Type::kReady);
  m.version = 2;
  EXPECT_EQ(refusal_from_display(m), "wire version 2 (this kvpc speaks 1)");
  m = make(Type::kReady);
  m.reserved[1] = 1;
  EXPECT_EQ(refusal_from_display(m), "reserved header bytes are not zero");
  m = make(static_cast<Type>(99));
  EXPECT_EQ(refusal_from_display(m), "message type 99 is not one kvpc-display sends");
  // Each side accepts only its peer's messages.
  EXPECT_EQ(refusal_from_display(frame(720, 400, 2880, 0, 400)), "message type 16 is not one kvpc-display sends");
  EXPECT_EQ(refusal_from_kvpc(key(4, 1)), "message type 3 is not one kvpc sends");
}

TEST(DisplayWire, InputOutOfRangeIsRefusedWithTheReason) {
  EXPECT_EQ(refusal_from_display(key(kMaxHidUsage + 1, 1)), "key HID usage 232 is out of range (0-231)");
  EXPECT_EQ(refusal_from_display(key(0xFFFF, 0)), "key HID usage 65535 is out of range (0-231)");
  EXPECT_EQ(refusal_from_display(key(4, 2)), "key pressed flag 2 is not 0 or 1");
  Message reserved_key = key(4, 1);
  reserved_key.key.reserved = 9;
  EXPECT_EQ(refusal_from_display(reserved_key), "key reserved byte is not zero");
  EXPECT_EQ(refusal_from_display(mouse(kMaxMouseDelta + 1, 0, 0)), "mouse motion (32769, 0) is out of range (+-32768)");
  EXPECT_EQ(refusal_from_display(mouse(0, INT32_MIN, 0)), "mouse motion (0, -2147483648) is out of range (+-32768)");
  EXPECT_EQ(refusal_from_display(mouse(0, 0, 8)), "mouse buttons 0x8 has bits above the middle button");
  Message close = make(Type::kClose);
  close.close.forced = 2;
  EXPECT_EQ(refusal_from_display(close), "close forced flag 2 is not 0 or 1");
  Message ack = make(Type::kAck);
  ack.bytes[20] = 1;
  EXPECT_EQ(refusal_from_display(ack), "ack message has non-zero unused bytes");
}

TEST(DisplayWire, TextMustBeTerminatedAndPrintable) {
  Message error = make(Type::kError);
  std::memset(error.text.text, 'x', kTextBytes);
  EXPECT_EQ(refusal_from_display(error), "error text is not NUL-terminated");
  error = make(Type::kError);
  std::memcpy(error.text.text, "bad\x1b[2Jtext", 11);
  EXPECT_EQ(refusal_from_display(error), "error text has a control character");
  // set_text cuts long text and replaces control characters, so what it makes always parses.
  set_text(error, std::string(500, 'y') + "\n");
  EXPECT_EQ(refusal_from_display(error), "accepted");
  EXPECT_EQ(text_of(error).size(), kTextBytes - 1);
  Message state = make(Type::kState);
  set_text(state, "paused\r\n");
  EXPECT_EQ(refusal_from_kvpc(state), "accepted");
  EXPECT_EQ(text_of(state), "paused  ");
}

TEST(DisplayWire, FramesMustFitTheSharedFramebuffer) {
  EXPECT_EQ(refusal_from_kvpc(frame(720, 400, 2880, 0, 400)), "accepted");
  EXPECT_EQ(refusal_from_kvpc(frame(kMaxWidth, kMaxHeight, kMaxWidth * 4, 10, 11)), "accepted");
  EXPECT_EQ(refusal_from_kvpc(frame(0, 400, 0, 0, 0)), "frame size 0x400 is out of range");
  EXPECT_EQ(refusal_from_kvpc(frame(kMaxWidth + 1, 10, (kMaxWidth + 1) * 4, 0, 1)), "frame size 2561x10 is out of range");
  EXPECT_EQ(refusal_from_kvpc(frame(720, 400, 100, 0, 1)), "frame stride 100 does not fit 720x400 in the framebuffer");
  EXPECT_EQ(refusal_from_kvpc(frame(720, 1600, 0xFFFFFFF0u, 0, 1)),
            "frame stride 4294967280 does not fit 720x1600 in the framebuffer");
  EXPECT_EQ(refusal_from_kvpc(frame(720, 400, 2880, 5, 4)), "frame rows [5, 4) are not inside 0-400");
  EXPECT_EQ(refusal_from_kvpc(frame(720, 400, 2880, 0, 401)), "frame rows [0, 401) are not inside 0-400");
  Message resized = frame(720, 400, 2880, 0, 400);
  resized.frame.resized = 2;
  EXPECT_EQ(refusal_from_kvpc(resized), "frame resized flag is not 0 or 1");
  EXPECT_EQ(refusal_from_kvpc(make(Type::kQuit)), "accepted");
}

}  // namespace
}  // namespace kvpc::display_wire
