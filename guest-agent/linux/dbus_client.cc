#include "guest-agent/linux/dbus_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace kvpc::agent {
namespace {

constexpr uint8_t kMethodCall = 1;
constexpr uint8_t kMethodReturn = 2;
constexpr uint8_t kError = 3;
constexpr uint8_t kFieldPath = 1, kFieldInterface = 2, kFieldMember = 3, kFieldErrorName = 4, kFieldReplySerial = 5,
                  kFieldDestination = 6, kFieldSignature = 8;
constexpr uint32_t kMaxMessage = 1u << 20;  // our replies are small; refuse anything huge

void header_field(DbusWriter& w, uint8_t code, const char* type, const std::string& value) {
  w.align(8);
  w.u8(code);
  w.signature(type);
  if (type[0] == 'g') {
    w.signature(value);
  } else {
    w.string(value);
  }
}

}  // namespace

void DbusWriter::u32(uint32_t v) {
  align(4);
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  bytes.insert(bytes.end(), b, b + 4);
}
void DbusWriter::string(const std::string& s) {
  u32(static_cast<uint32_t>(s.size()));
  bytes.insert(bytes.end(), s.begin(), s.end());
  bytes.push_back(0);
}
void DbusWriter::signature(const std::string& s) {
  bytes.push_back(static_cast<uint8_t>(s.size()));
  bytes.insert(bytes.end(), s.begin(), s.end());
  bytes.push_back(0);
}

bool DbusReader::align(size_t n) {
  size_t aligned = (at_ + n - 1) / n * n;
  if (aligned > body_.size()) return false;
  at_ = aligned;
  return true;
}
std::optional<uint32_t> DbusReader::u32() {
  if (!align(4) || at_ + 4 > body_.size()) return std::nullopt;
  uint32_t v;
  std::memcpy(&v, body_.data() + at_, 4);
  at_ += 4;
  return v;
}
std::optional<std::string> DbusReader::string() {
  auto length = u32();
  if (!length || *length > body_.size() - at_ || at_ + *length + 1 > body_.size()) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(body_.data() + at_), *length);
  at_ += *length + 1;
  return s;
}

std::optional<std::vector<LogindSession>> decode_session_list(const std::vector<uint8_t>& body) {
  DbusReader r(body);
  auto length = r.u32();
  if (!length || !r.align(8) || *length > body.size() - r.offset()) return std::nullopt;
  size_t end = r.offset() + *length;
  std::vector<LogindSession> sessions;
  while (r.offset() < end) {
    LogindSession s;
    auto id = (r.align(8), r.string());
    auto uid = r.u32();
    auto user = r.string();
    auto seat = r.string();
    auto path = r.string();
    if (!id || !uid || !user || !seat || !path) return std::nullopt;
    sessions.push_back({*id, *uid, *user, *seat, *path});
  }
  return sessions;
}

DbusClient::~DbusClient() {
  if (fd_ >= 0) close(fd_);
}

DbusClient::DbusClient(DbusClient&& other) noexcept : fd_(other.fd_), timeout_(other.timeout_), serial_(other.serial_) {
  other.fd_ = -1;
}

std::optional<DbusClient> DbusClient::connect(const std::string& path, std::string* error,
                                              std::chrono::milliseconds timeout) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof address.sun_path) {
    if (fd >= 0) close(fd);
    *error = "cannot create a socket";
    return std::nullopt;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    *error = "cannot connect to " + path + ": " + strerror(errno);
    close(fd);
    return std::nullopt;
  }
  return adopt(fd, error, timeout);
}

std::optional<DbusClient> DbusClient::adopt(int fd, std::string* error, std::chrono::milliseconds timeout) {
  DbusClient client(fd, timeout);
  if (!client.authenticate(error)) return std::nullopt;
  auto hello = client.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", {});
  if (!hello || hello->error) {
    *error = "Hello failed";
    return std::nullopt;
  }
  return client;
}

bool DbusClient::read_exact(uint8_t* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(timeout_.count())) <= 0) return false;
    ssize_t r = read(fd_, out + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

bool DbusClient::read_line(std::string* line) {
  line->clear();
  uint8_t c;
  while (line->size() < 512 && read_exact(&c, 1)) {
    line->push_back(static_cast<char>(c));
    if (line->size() >= 2 && line->compare(line->size() - 2, 2, "\r\n") == 0) return true;
  }
  return false;
}

// SASL EXTERNAL: the bus checks our uid from SO_PEERCRED; we name it as hex of its decimal text.
bool DbusClient::authenticate(std::string* error) {
  std::string uid = std::to_string(getuid());
  std::string hex;
  for (char c : uid) {
    char pair[3];
    snprintf(pair, sizeof pair, "%02x", static_cast<unsigned char>(c));
    hex += pair;
  }
  std::string auth = std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n";
  std::string line;
  if (write(fd_, auth.data(), auth.size()) != static_cast<ssize_t>(auth.size()) || !read_line(&line) ||
      line.compare(0, 3, "OK ") != 0) {
    *error = "D-Bus authentication refused";
    return false;
  }
  const char begin[] = "BEGIN\r\n";
  return write(fd_, begin, sizeof begin - 1) == static_cast<ssize_t>(sizeof begin - 1);
}

std::optional<DbusClient::Reply> DbusClient::call(const std::string& destination, const std::string& path,
                                                  const std::string& interface, const std::string& member,
                                                  const std::vector<std::string>& string_args) {
  DbusWriter body;
  for (const auto& arg : string_args) body.string(arg);
  DbusWriter fields;
  header_field(fields, kFieldPath, "o", path);
  header_field(fields, kFieldInterface, "s", interface);
  header_field(fields, kFieldMember, "s", member);
  header_field(fields, kFieldDestination, "s", destination);
  if (!string_args.empty()) header_field(fields, kFieldSignature, "g", std::string(string_args.size(), 's'));
  uint32_t serial = ++serial_;
  DbusWriter message;
  message.u8('l');
  message.u8(kMethodCall);
  message.u8(0);
  message.u8(1);
  message.u32(static_cast<uint32_t>(body.bytes.size()));
  message.u32(serial);
  message.u32(static_cast<uint32_t>(fields.bytes.size()));
  message.bytes.insert(message.bytes.end(), fields.bytes.begin(), fields.bytes.end());
  message.align(8);
  message.bytes.insert(message.bytes.end(), body.bytes.begin(), body.bytes.end());
  if (write(fd_, message.bytes.data(), message.bytes.size()) != static_cast<ssize_t>(message.bytes.size())) {
    return std::nullopt;
  }
  // Read messages until the reply to ours (signals and other traffic are skipped).
  for (int skipped = 0; skipped < 64; ++skipped) {
    uint8_t fixed[16];
    if (!read_exact(fixed, sizeof fixed) || fixed[0] != 'l') return std::nullopt;
    uint32_t body_length, fields_length;
    std::memcpy(&body_length, fixed + 4, 4);
    std::memcpy(&fields_length, fixed + 12, 4);
    if (body_length > kMaxMessage || fields_length > kMaxMessage) return std::nullopt;
    size_t fields_padded = (fields_length + 7) & ~size_t{7};
    std::vector<uint8_t> rest(fields_padded + body_length);
    if (!read_exact(rest.data(), rest.size())) return std::nullopt;
    if (fixed[1] != kMethodReturn && fixed[1] != kError) continue;
    // Header fields: a(yv), each struct 8-aligned (offsets count from the message start,
    // and the fields start at 16, so alignment within field_bytes is the same).
    const uint8_t* f = rest.data();
    Reply reply;
    reply.error = fixed[1] == kError;
    std::optional<uint32_t> reply_serial;
    size_t at = 0;
    auto align_to = [&](size_t n) { at = (at + n - 1) / n * n; };
    while (true) {
      align_to(8);
      if (at >= fields_length) break;
      if (at + 3 > fields_length) return std::nullopt;
      uint8_t code = f[at];
      uint8_t sig_length = f[at + 1];
      if (sig_length != 1 || at + 4 > fields_length) return std::nullopt;  // header values are basic types
      char type = static_cast<char>(f[at + 2]);
      at += 4;  // code, length, type, NUL
      if (type == 'u') {
        align_to(4);
        if (at + 4 > fields_length) return std::nullopt;
        uint32_t v;
        std::memcpy(&v, f + at, 4);
        at += 4;
        if (code == kFieldReplySerial) reply_serial = v;
      } else if (type == 'g') {
        if (at >= fields_length || at + 2 + f[at] > fields_length) return std::nullopt;
        std::string text(reinterpret_cast<const char*>(f + at + 1), f[at]);
        at += 2 + f[at];
        if (code == kFieldSignature) reply.signature = text;
      } else if (type == 's' || type == 'o') {
        align_to(4);
        if (at + 4 > fields_length) return std::nullopt;
        uint32_t len;
        std::memcpy(&len, f + at, 4);
        if (len > fields_length || at + 5 + len > fields_length) return std::nullopt;
        if (code == kFieldErrorName) reply.error_name.assign(reinterpret_cast<const char*>(f + at + 4), len);
        at += 5 + len;
      } else {
        return std::nullopt;  // a header field type the spec does not use
      }
    }
    if (reply_serial != serial) continue;
    reply.body.assign(rest.begin() + static_cast<long>(fields_padded), rest.end());
    return reply;
  }
  return std::nullopt;
}

}  // namespace kvpc::agent
