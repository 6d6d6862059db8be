// The wire between kvpc and its window process, kvpc-display (display/window/).
//
// Why a process: SDL and the graphics stack under it (X11/Wayland clients, Mesa, D-Bus...)
// open devices and sockets that no seccomp filter can predict, and libSDL2 pulls ~50 shared
// libraries that a static kvpc cannot dlopen. kvpc-display holds only what it needs to draw:
//   fd 3  one end of a socketpair(AF_UNIX, SOCK_SEQPACKET): the messages below
//   fd 4  a memfd of kFramebufferBytes, mapped MAP_SHARED by both: the picture (RGBA rows)
// and nothing else of kvpc's (no guest memory, no KVM descriptors: every other descriptor is
// closed at spawn). argv: kvpc-display VM_NAME PARENT_PID.
//
// Messages: every message is exactly sizeof(Message) bytes, one datagram each (SEQPACKET keeps
// the boundaries), starting with kMagic and kVersion. A receiver refuses (with a reason) a
// datagram of any other size, a wrong magic or version, an unknown type, and any field out of
// range; see parse_from_display() / parse_from_kvpc(). kvpc treats kvpc-display as untrusted
// input: a refused message closes the window and the VM keeps running headless.
//
//   kvpc-display -> kvpc   kReady (window open), kError (text: why no window; then it exits),
//                          kKey (HID usage <= kMaxHidUsage, pressed 0/1), kMouse (dx, dy in
//                          +-kMaxMouseDelta, buttons bits 0-2), kClose (forced 0/1),
//                          kAck (the serial of the frame it finished copying out of the memfd)
//   kvpc -> kvpc-display   kFrame (serial, width, height, stride, rows [first, last) changed,
//                          resized), kState (text for the title: "running", "paused"...),
//                          kQuit
//
// Concurrency contract (the framebuffer): one frame in flight. kvpc writes rows into the memfd
// only while no kFrame is unacknowledged; after sending kFrame it does not touch the memfd until
// kvpc-display answers kAck with that frame's serial. kvpc-display reads the memfd only between
// receiving kFrame and sending its kAck. kvpc-display never writes the memfd. A display that
// does not ack within kAckTimeoutMs is taken as hung: kvpc closes it and runs headless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vmm/result.h"

namespace kvpc::display_wire {

inline constexpr uint32_t kMagic = 0x4450564B;  // "KVPD" little-endian
inline constexpr uint16_t kVersion = 1;
inline constexpr int kSocketFd = 3;
inline constexpr int kFramebufferFd = 4;

// The largest picture the VGA can show (Bochs VBE 2560x1600x32) fits the memfd.
inline constexpr uint32_t kMaxWidth = 2560, kMaxHeight = 1600;
inline constexpr size_t kFramebufferBytes = size_t{kMaxWidth} * kMaxHeight * 4;
inline constexpr uint16_t kMaxHidUsage = 0xE7;  // keyboard page: the last usage is Right GUI
inline constexpr int32_t kMaxMouseDelta = 1 << 15;
inline constexpr int kAckTimeoutMs = 5000;
inline constexpr int kStartTimeoutMs = 10000;  // SDL may take a while to reach the X server
inline constexpr size_t kTextBytes = 96;        // kState/kError text, NUL-terminated inside

enum class Type : uint16_t {
  kReady = 1,
  kError = 2,
  kKey = 3,
  kMouse = 4,
  kClose = 5,
  kAck = 6,
  kFrame = 16,
  kState = 17,
  kQuit = 18,
};

struct FrameFields {
  uint64_t serial;
  uint32_t width, height, stride;
  uint32_t first_row, last_row;  // rows [first_row, last_row) changed (all of them when resized)
  uint32_t resized;              // 0 or 1
};
struct KeyFields {
  uint16_t hid_usage;
  uint8_t pressed;  // 0 or 1
  uint8_t reserved;
};
struct MouseFields {
  int32_t dx, dy;   // dx right, dy up (PS/2's sense)
  uint8_t buttons;  // bit 0 left, 1 right, 2 middle
  uint8_t reserved[3];
};
struct CloseFields {
  uint32_t forced;  // 0 first close (ask the guest), 1 second close (stop the VM)
};
struct AckFields {
  uint64_t serial;
};
struct TextFields {
  char text[kTextBytes];
};

struct Message {
  uint32_t magic;
  uint16_t version;
  Type type;
  uint32_t reserved[2];  // zero
  union {
    FrameFields frame;
    KeyFields key;
    MouseFields mouse;
    CloseFields close;
    AckFields ack;
    TextFields text;
    uint8_t bytes[112];
  };
};
static_assert(sizeof(Message) == 128, "fixed-size wire message");

// A zeroed message of `type` with magic and version set.
Message make(Type type);
// Text into a kState/kError message, cut to fit (always NUL-terminated).
void set_text(Message& message, const std::string& text);

// Validates a datagram kvpc received from kvpc-display (`size` is the datagram's real length,
// as recv with MSG_TRUNC reports it). Only kReady, kError, kKey, kMouse, kClose and kAck are
// accepted; the error says what was wrong with it.
Result<Message> parse_from_display(const void* data, size_t size);
// Validates a datagram kvpc-display received from kvpc: kFrame, kState, kQuit.
Result<Message> parse_from_kvpc(const void* data, size_t size);

// The text of a parsed kState/kError message.
std::string text_of(const Message& message);

}  // namespace kvpc::display_wire
