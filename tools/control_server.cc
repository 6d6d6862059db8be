#include "tools/control_server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {

struct ControlServer::Connection {
  uint64_t id = 0;
  UniqueFd fd;
  PeerCredentials peer;
  std::string input;
  std::string output;
  bool closing = false;
};

namespace {

// True when something is listening on the socket at `path`.
bool socket_is_live(const std::string& path) {
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  return connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

}  // namespace

ControlServer::ControlServer(EventLoop& loop) : loop_(loop) {}

ControlServer::~ControlServer() { close(); }

nlohmann::json ControlServer::ok(const nlohmann::json& id, nlohmann::json result) {
  return {{"id", id}, {"ok", true}, {"result", std::move(result)}};
}

nlohmann::json ControlServer::error(const nlohmann::json& id, const std::string& code, const std::string& message) {
  return {{"id", id}, {"ok", false}, {"error", {{"code", code}, {"message", message}}}};
}

Status ControlServer::listen(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    return make_error(fmt::format("control socket path {} is longer than a Unix socket allows", path));
  }
  struct stat info{};
  if (lstat(path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) return make_error(fmt::format("{} exists and is not a socket", path));
    if (socket_is_live(path)) {
      return make_error(fmt::format("a VM with this name is already running (its control socket {} answers)", path));
    }
    unlink(path.c_str());  // stale: its kvpc died without cleaning up
  }
  listen_fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_.valid()) return make_error(fmt::format("socket(AF_UNIX) failed: {}", strerror(errno)));
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  // The socket is created private (0600): the umask covers the window before chmod.
  mode_t old_mask = umask(0177);
  int bound = bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
  int bind_errno = errno;
  umask(old_mask);
  if (bound < 0) return make_error(fmt::format("cannot bind control socket {}: {}", path, strerror(bind_errno)));
  path_ = path;
  if (::listen(listen_fd_.get(), 16) < 0) return make_error(fmt::format("listen on {} failed: {}", path, strerror(errno)));
  return loop_.add_fd(listen_fd_.get(), EPOLLIN, [this](uint32_t) { accept_clients(); });
}

void ControlServer::add_handler(const std::string& method, Handler handler) { handlers_[method] = std::move(handler); }

void ControlServer::close() {
  *alive_ = false;
  if (listen_fd_.valid()) {
    loop_.remove_fd(listen_fd_.get());
    listen_fd_.reset();
  }
  for (auto& [id, connection] : connections_) loop_.remove_fd(connection->fd.get());
  connections_.clear();
  if (!path_.empty()) {
    unlink(path_.c_str());
    path_.clear();
  }
}

void ControlServer::accept_clients() {
  while (true) {
    int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN: done; other errors: try again on the next event
    UniqueFd client(fd);
    if (connections_.size() >= kMaxConnections) continue;  // closes it
    auto connection = std::make_shared<Connection>();
    connection->id = next_connection_id_++;
    ucred credentials{};
    socklen_t length = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0) continue;
    connection->peer = {credentials.pid, credentials.uid, credentials.gid};
    connection->fd = std::move(client);
    connections_[connection->id] = connection;
    std::weak_ptr<Connection> weak = connection;
    auto status = loop_.add_fd(connection->fd.get(), EPOLLIN | EPOLLRDHUP, [this, weak](uint32_t events) {
      if (auto strong = weak.lock()) on_readable(strong, events);
    });
    if (!status) connections_.erase(connection->id);
  }
}

void ControlServer::on_readable(const std::shared_ptr<Connection>& connection, uint32_t events) {
  if ((events & EPOLLOUT) != 0) flush(connection);
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) return;
  char buffer[4096];
  while (true) {
    ssize_t n = read(connection->fd.get(), buffer, sizeof(buffer));
    if (n > 0) {
      connection->input.append(buffer, static_cast<size_t>(n));
      size_t newline;
      while ((newline = connection->input.find('\n')) != std::string::npos) {
        std::string line = connection->input.substr(0, newline);
        connection->input.erase(0, newline + 1);
        handle_line(connection, line);
        if (connections_.count(connection->id) == 0) return;
      }
      if (connection->input.size() > kMaxRequestBytes) {
        send_line(connection->id, error(nullptr, "request_too_large",
                                         fmt::format("a request line may be at most {} bytes", kMaxRequestBytes))
                                      .dump());
        drop(connection->id);
        return;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    drop(connection->id);  // EOF or error
    return;
  }
}

void ControlServer::handle_line(const std::shared_ptr<Connection>& connection, const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;  // blank lines are keep-alives
  nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    send_line(connection->id, error(nullptr, "invalid_json", "the request is not valid JSON").dump());
    return;
  }
  if (!parsed.is_object()) {
    send_line(connection->id, error(nullptr, "invalid_request", "a request is a JSON object").dump());
    return;
  }
  Request request;
  request.id = parsed.contains("id") ? parsed["id"] : nlohmann::json(nullptr);
  if (!parsed.contains("method") || !parsed["method"].is_string()) {
    send_line(connection->id, error(request.id, "invalid_request", "\"method\" must be a string").dump());
    return;
  }
  request.method = parsed["method"].get<std::string>();
  request.params = parsed.contains("params") ? parsed["params"] : nlohmann::json::object();
  if (!request.params.is_object()) {
    send_line(connection->id, error(request.id, "invalid_request", "\"params\" must be an object").dump());
    return;
  }
  request.peer = connection->peer;
  request.connection = connection->id;
  auto handler = handlers_.find(request.method);
  if (handler == handlers_.end()) {
    send_line(connection->id,
              error(request.id, "unknown_method", fmt::format("unknown method '{}'", request.method)).dump());
    return;
  }
  uint64_t id = connection->id;
  std::weak_ptr<bool> alive = alive_;
  Reply reply = [this, id, alive](const nlohmann::json& response) {
    std::string text = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    loop_.post([this, id, alive, text] {
      if (auto flag = alive.lock(); flag && *flag) send_line(id, text);
    });
  };
  handler->second(request, std::move(reply));
}

void ControlServer::send_line(uint64_t connection_id, const std::string& text) {
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return;
  auto connection = it->second;
  if (connection->output.size() + text.size() + 1 > kMaxPendingOutput) {
    drop(connection_id);  // a client that does not read its answers
    return;
  }
  connection->output += text;
  connection->output += '\n';
  flush(connection);
}

void ControlServer::flush(const std::shared_ptr<Connection>& connection) {
  while (!connection->output.empty()) {
    ssize_t n = send(connection->fd.get(), connection->output.data(), connection->output.size(), MSG_NOSIGNAL);
    if (n > 0) {
      connection->output.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      [[maybe_unused]] auto status = loop_.modify_fd(connection->fd.get(), EPOLLIN | EPOLLRDHUP | EPOLLOUT);
      return;
    }
    drop(connection->id);
    return;
  }
  [[maybe_unused]] auto status = loop_.modify_fd(connection->fd.get(), EPOLLIN | EPOLLRDHUP);
}

void ControlServer::drop(uint64_t connection_id) {
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return;
  loop_.remove_fd(it->second->fd.get());
  connections_.erase(it);
  if (on_disconnect_) on_disconnect_(connection_id);
}

}  // namespace kvpc
