// A stand-in for kvpc-display (KVPC_DISPLAY_HELPER) that misbehaves on purpose, for
// tests/e2e/display_process_test.cc. It speaks display/display_wire.h on fd 3 with the
// framebuffer on fd 4, as kvpc starts the real one. KVPC_FAKE_DISPLAY_MODE picks the behaviour:
//   refuse     answers kError and exits (SDL could not open a window)
//   silent     never answers (kvpc's start-up timeout)
//   exit-at-start  exits with status 7 before saying anything
//   garbage    ready, then after the first frame 128 bytes with a wrong magic
//   short      ready, then after the first frame a 10-byte datagram
//   bad-key    ready, then after the first frame a key with HID usage 0x1FF
//   die        ready, then exits at the first frame
//   no-ack     ready, reads frames and never acknowledges them
//   closer     a well-behaved display whose window is closed once ($KVPC_FAKE_DISPLAY_REPORT.go)
//   closer-twice  the same, closed twice at once
//   typist     a well-behaved display: acks frames, types "echo fake" + Enter as HID usages
//              (once $KVPC_FAKE_DISPLAY_REPORT.go exists),
//              and writes what it can see of kvpc into $KVPC_FAKE_DISPLAY_REPORT
// Every mode writes its pid to $KVPC_FAKE_DISPLAY_REPORT.pid first (the test checks the reaping).
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "display/display_wire.h"

namespace wire = kvpc::display_wire;

namespace {

bool send_message(const wire::Message& message) {
  return send(wire::kSocketFd, &message, sizeof(message), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(message));
}

// The next message from kvpc (parsed), or false when kvpc went away.
bool receive(wire::Message& message) {
  wire::Message buffer[2];
  const ssize_t n = recv(wire::kSocketFd, buffer, sizeof(buffer), MSG_TRUNC);
  if (n <= 0) return false;
  auto parsed = wire::parse_from_kvpc(buffer, static_cast<size_t>(n));
  if (!parsed) return false;
  message = *parsed;
  return true;
}

bool wait_for_frame(wire::Message& frame) {
  while (receive(frame)) {
    if (frame.type == wire::Type::kFrame) return true;
  }
  return false;
}

void sleep_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

std::string open_descriptors() {
  std::string list;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return "?";
  const int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.' || std::atoi(entry->d_name) == own) continue;
    list += std::string(list.empty() ? "" : ",") + entry->d_name;
  }
  closedir(dir);
  return list;
}

void type_text(const std::string& usages) {
  for (char c : usages) {
    for (bool pressed : {true, false}) {
      wire::Message key = wire::make(wire::Type::kKey);
      key.key.hid_usage = static_cast<uint8_t>(c);
      key.key.pressed = pressed ? 1 : 0;
      send_message(key);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a typist, not a flood
    }
  }
}

// Acks every frame, as a well-behaved display does, until kvpc says quit or closes the socket.
int ack_frames_until_quit() {
  wire::Message ack = wire::make(wire::Type::kAck);
  wire::Message message{};
  while (receive(message)) {
    if (message.type == wire::Type::kFrame) {
      ack.ack.serial = message.frame.serial;
      send_message(ack);
    }
    if (message.type == wire::Type::kQuit) return 0;
  }
  return 0;
}

}  // namespace

int main() {
  const char* mode_env = std::getenv("KVPC_FAKE_DISPLAY_MODE");
  const char* report_env = std::getenv("KVPC_FAKE_DISPLAY_REPORT");
  const std::string mode = mode_env != nullptr ? mode_env : "";
  const std::string report = report_env != nullptr ? report_env : "/dev/null";
  std::ofstream(report + ".pid") << getpid() << "\n";

  if (mode == "silent") sleep_forever();
  if (mode == "exit-at-start") return 7;
  if (mode == "refuse") {
    wire::Message error = wire::make(wire::Type::kError);
    wire::set_text(error, "cannot open a window: the fake display refuses");
    send_message(error);
    return 1;
  }
  if (!send_message(wire::make(wire::Type::kReady))) return 1;
  wire::Message frame{};
  if (!wait_for_frame(frame)) return 1;
  if (mode == "die") return 3;
  if (mode == "garbage") {
    uint8_t junk[sizeof(wire::Message)];
    for (size_t i = 0; i < sizeof(junk); ++i) junk[i] = static_cast<uint8_t>(i * 37 + 11);
    send(wire::kSocketFd, junk, sizeof(junk), MSG_NOSIGNAL);
    sleep_forever();
  }
  if (mode == "short") {
    send(wire::kSocketFd, "0123456789", 10, MSG_NOSIGNAL);
    sleep_forever();
  }
  if (mode == "bad-key") {
    wire::Message key = wire::make(wire::Type::kKey);
    key.key.hid_usage = 0x1FF;
    key.key.pressed = 1;
    send_message(key);
    sleep_forever();
  }
  if (mode == "no-ack") {
    wire::Message ignored{};
    while (receive(ignored)) {
    }
    sleep_forever();
  }
  if (mode == "closer" || mode == "closer-twice") {
    // Once $KVPC_FAKE_DISPLAY_REPORT.go exists: the user closes the window (and, for
    // closer-twice, closes it again at once: the VM is stopped without asking the guest).
    wire::Message ack = wire::make(wire::Type::kAck);
    ack.ack.serial = frame.frame.serial;
    send_message(ack);
    std::thread closer([go = report + ".go", twice = mode == "closer-twice"] {
      while (access(go.c_str(), F_OK) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      wire::Message close = wire::make(wire::Type::kClose);
      send_message(close);
      if (twice) {
        close.close.forced = 1;
        send_message(close);
      }
    });
    closer.detach();
    return ack_frames_until_quit();
  }
  if (mode != "typist") return 2;

  // What a display process can reach of kvpc: its descriptors, and whether the sealed
  // framebuffer can be shrunk or mapped writable (it must not).
  const bool shrinks = ftruncate(wire::kFramebufferFd, 4096) == 0;
  void* writable = mmap(nullptr, wire::kFramebufferBytes, PROT_READ | PROT_WRITE, MAP_SHARED, wire::kFramebufferFd, 0);
  const void* readable = mmap(nullptr, wire::kFramebufferBytes, PROT_READ, MAP_SHARED, wire::kFramebufferFd, 0);
  const auto* pixels = static_cast<const uint8_t*>(readable);
  const std::string descriptors = open_descriptors();
  {
    std::ofstream out(report);
    out << "fds " << descriptors << "\n";
    out << "shrink " << (shrinks ? "yes" : "no") << "\n";
    out << "map-writable " << (writable != MAP_FAILED ? "yes" : "no") << "\n";
    out << "frame " << frame.frame.width << "x" << frame.frame.height << " resized " << frame.frame.resized << "\n";
    out << "pixel0 " << (readable != MAP_FAILED ? std::to_string(pixels[0]) + "," + std::to_string(pixels[3]) : "?")
        << "\n";
  }
  wire::Message ack = wire::make(wire::Type::kAck);
  ack.ack.serial = frame.frame.serial;
  send_message(ack);
  // Once the test says the guest's prompt is up ($KVPC_FAKE_DISPLAY_REPORT.go exists): "echo
  // fake" and Enter as HID usages (e=8 c=6 h=11 o=18 space=44 f=9 a=4 k=14 Enter=40).
  std::thread typist([go = report + ".go"] {
    while (access(go.c_str(), F_OK) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    type_text(std::string{8, 6, 11, 18, 44, 9, 4, 14, 8, 40});
  });
  typist.detach();
  return ack_frames_until_quit();
}
