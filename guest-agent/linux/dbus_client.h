// A minimal D-Bus client for the system bus: enough for systemd-logind's ListSessions and
// TerminateSession. Written for the agent (a static binary cannot use libdbus/libsystemd):
// AUTH EXTERNAL over a Unix socket, Hello, method calls with string arguments, and the reply's
// body handed back raw for the caller to decode. Little-endian messages only (we send 'l';
// replies in 'B' order are refused).
//
// Concurrency contract: one thread per client; every call blocks for at most the timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvpc::agent {

class DbusClient {
 public:
  ~DbusClient();
  // Connects to the socket at `path` (the system bus: /run/dbus/system_bus_socket),
  // authenticates as our uid and says Hello. nullopt + *error on failure.
  static std::optional<DbusClient> connect(const std::string& path, std::string* error,
                                           std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  // Adopts a connected socket (tests).
  static std::optional<DbusClient> adopt(int fd, std::string* error,
                                         std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  DbusClient(DbusClient&& other) noexcept;
  DbusClient& operator=(DbusClient&&) = delete;

  struct Reply {
    bool error = false;        // an ERROR message (error_name says which)
    std::string error_name;
    std::string signature;
    std::vector<uint8_t> body;
  };
  // Calls destination/path/interface.member with string arguments; nullopt on I/O failure.
  std::optional<Reply> call(const std::string& destination, const std::string& path, const std::string& interface,
                            const std::string& member, const std::vector<std::string>& string_args);

 private:
  explicit DbusClient(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
  bool authenticate(std::string* error);
  bool read_exact(uint8_t* out, size_t n);
  bool read_line(std::string* line);

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  uint32_t serial_ = 0;
};

// Body decoding helpers (D-Bus alignment rules, little-endian).
class DbusReader {
 public:
  explicit DbusReader(const std::vector<uint8_t>& body) : body_(body) {}
  bool align(size_t n);
  std::optional<uint32_t> u32();
  std::optional<std::string> string();  // s and o
  size_t offset() const { return at_; }

 private:
  const std::vector<uint8_t>& body_;
  size_t at_ = 0;
};

// Body encoding helpers (tests build replies with these too).
class DbusWriter {
 public:
  void align(size_t n) { while (bytes.size() % n) bytes.push_back(0); }
  void u8(uint8_t v) { bytes.push_back(v); }
  void u32(uint32_t v);
  void string(const std::string& s);     // s, o
  void signature(const std::string& s);  // g
  std::vector<uint8_t> bytes;
};

// The logind sessions: ListSessions → a(susso) {id, uid, user, seat, path}.
struct LogindSession {
  std::string id;
  uint32_t uid = 0;
  std::string user;
  std::string seat;
  std::string path;
};
std::optional<std::vector<LogindSession>> decode_session_list(const std::vector<uint8_t>& body);

}  // namespace kvpc::agent
