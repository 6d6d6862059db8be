// The control socket's server side (tools/control_server.*): line framing, JSON parsing,
// request shape checks, dispatch and replies, over a real Unix socket, exactly as a client
// reaches it. The input is written as one client's bytes (in two parts, split where byte 0
// says), followed by a newline and a sentinel request; the run ends when the sentinel's
// answer arrives or the server closes the connection.
//
// Properties: the server answers within 8 s (no hang, no lost request), and every line it
// sends is a JSON object carrying "id" and either "ok" or "event".
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_input.h"
#include "tools/control_server.h"
#include "vmm/event_loop.h"

using namespace kvpc;
using nlohmann::json;

namespace {

// Handlers shaped like kvpc's: immediate answers, a stream (several lines per request,
// like "events"), and one that answers from another thread (like logoff --wait).
struct Server {
  Server() {
    path = "/tmp/kvpc-fuzz-control-" + std::to_string(getpid()) + ".sock";
    KVPC_FUZZ_CHECK(loop.init().ok());
    server = std::make_unique<ControlServer>(loop);
    KVPC_FUZZ_CHECK(server->listen(path).ok());
    server->add_handler("echo", [](const ControlServer::Request& request, ControlServer::Reply reply) {
      reply(ControlServer::ok(request.id, {{"params", request.params}, {"method", request.method}}));
    });
    server->add_handler("status", [](const ControlServer::Request& request, ControlServer::Reply reply) {
      if (!request.params.empty()) {
        reply(ControlServer::error(request.id, "invalid_params", "status takes no parameters"));
        return;
      }
      reply(ControlServer::ok(request.id, {{"state", "Running"}}));
    });
    server->add_handler("events", [](const ControlServer::Request& request, ControlServer::Reply reply) {
      reply(ControlServer::ok(request.id, {{"state", "Running"}}));
      for (int i = 0; i < 3; ++i) reply({{"id", request.id}, {"event", "OnStateChange"}, {"n", i}});
    });
    server->add_handler("later", [](const ControlServer::Request& request, ControlServer::Reply reply) {
      std::thread([request, reply] { reply(ControlServer::ok(request.id, {{"late", true}})); }).join();
    });
    loop.start_thread();
  }
  ~Server() {
    loop.stop();
    server.reset();
    unlink(path.c_str());
  }
  EventLoop loop;
  std::unique_ptr<ControlServer> server;
  std::string path;
};

Server& server() {
  static Server instance;
  return instance;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;  // the server closed the connection (e.g. a request too large)
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void check_line(const std::string& line) {
  json parsed = json::parse(line, nullptr, false);
  KVPC_FUZZ_CHECK(!parsed.is_discarded() && parsed.is_object());
  KVPC_FUZZ_CHECK(parsed.contains("id"));
  KVPC_FUZZ_CHECK(parsed.contains("ok") || parsed.contains("event"));
  if (parsed.contains("ok") && parsed["ok"] == false) KVPC_FUZZ_CHECK(parsed["error"]["code"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static uint64_t run = 0;
  Server& s = server();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  KVPC_FUZZ_CHECK(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, s.path.c_str(), sizeof(address.sun_path) - 1);
  KVPC_FUZZ_CHECK(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);

  size_t split = size > 0 ? data[0] % (size + 1) : 0;
  std::string sentinel_id = "sentinel-" + std::to_string(++run);
  std::string sentinel = "\n{\"id\":\"" + sentinel_id + "\",\"method\":\"status\"}\n";
  const char* bytes = reinterpret_cast<const char*>(data);
  bool sent = write_all(fd, bytes, split) && write_all(fd, bytes + split, size - split) &&
              write_all(fd, sentinel.data(), sentinel.size());

  std::string pending;
  bool answered = false;
  while (!answered) {
    pollfd p{fd, POLLIN, 0};
    // 8 s without an answer or a close: the server lost the request. (The bound is generous
    // because a 5 s bound once fired on a machine at load 20 and never reproduced.)
    int ready = poll(&p, 1, 8000);
    KVPC_FUZZ_CHECK(ready == 1);
    char buffer[65536];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;  // closed: only allowed for an oversized request line
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      check_line(line);
      if (line.find(sentinel_id) != std::string::npos) answered = true;
    }
  }
  // The server may close only when a line outgrew the request limit.
  if (!answered) KVPC_FUZZ_CHECK(!sent || size + sentinel.size() > ControlServer::kMaxRequestBytes);
  close(fd);
  return 0;
}
