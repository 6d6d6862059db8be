// ControlServer: the per-VM control socket, one JSON object per line each way.
//
// Request:  {"id": <any>, "method": "status", "params": {...}}
// Response: {"id": <same>, "ok": true, "result": {...}}
//       or  {"id": <same>, "ok": false, "error": {"code": "...", "message": "..."}}
// (integration methods also put "hresult"/"hresult_name" in result; see docs/control-socket.md).
//
// Runs entirely on the EventLoop thread: accept, read, parse, dispatch, write. A handler
// answers through a Reply it may keep and call later (a `logoff --wait` replies when the
// task completes), from any thread: the reply is posted back to the loop.
//
// Limits that keep a bad client from hurting the VM: a request line is at most 64 KiB
// (longer → error and close), at most 64 connections, output to a client that does not
// read is capped at 1 MiB (then the connection is closed), idle connections are not timed
// out (a `kvpc events` stream is legitimately idle).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "vmm/event_loop.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace kvpc {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class ControlServer {
 public:
  // Sends one response (or, for streams, one line) to the client. Safe from any thread;
  // harmless after the client left.
  using Reply = std::function<void(const nlohmann::json& line)>;
  struct Request {
    nlohmann::json id;
    std::string method;
    nlohmann::json params;
    PeerCredentials peer;
    uint64_t connection = 0;
  };
  using Handler = std::function<void(const Request& request, Reply reply)>;

  static constexpr size_t kMaxRequestBytes = 64 * 1024;
  static constexpr size_t kMaxConnections = 64;
  static constexpr size_t kMaxPendingOutput = 1 << 20;

  explicit ControlServer(EventLoop& loop);
  ~ControlServer();

  // Binds `path` (removing a stale socket left by a dead kvpc; refusing if a live VM owns it).
  Status listen(const std::string& path);
  void add_handler(const std::string& method, Handler handler);
  // Called when a connection closes (streams unsubscribe here).
  void on_disconnect(std::function<void(uint64_t connection)> callback) { on_disconnect_ = std::move(callback); }
  void close();

  // Builders for the two response shapes.
  static nlohmann::json ok(const nlohmann::json& id, nlohmann::json result);
  static nlohmann::json error(const nlohmann::json& id, const std::string& code, const std::string& message);

 private:
  struct Connection;
  void accept_clients();
  void on_readable(const std::shared_ptr<Connection>& connection, uint32_t events);
  void handle_line(const std::shared_ptr<Connection>& connection, const std::string& line);
  void send_line(uint64_t connection_id, const std::string& text);
  void flush(const std::shared_ptr<Connection>& connection);
  void drop(uint64_t connection_id);

  EventLoop& loop_;
  UniqueFd listen_fd_;
  std::string path_;
  std::map<std::string, Handler> handlers_;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;  // loop thread only
  uint64_t next_connection_id_ = 1;
  std::function<void(uint64_t)> on_disconnect_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace kvpc
