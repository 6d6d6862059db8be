#include "tools/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tools/runtime_dir.h"

namespace kvpc {

Result<ControlClient> ControlClient::connect_to_vm(const std::string& name, ConnectError* why) {
  if (auto valid = validate_vm_name(name); !valid) {
    if (why) *why = ConnectError::kNoSuchVm;
    return valid.error();
  }
  return connect_to_path(socket_path_for(runtime_dir_path(), name), why);
}

Result<ControlClient> ControlClient::connect_to_path(const std::string& path, ConnectError* why) {
  if (why) *why = ConnectError::kNone;
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_error(fmt::format("socket failed: {}", strerror(errno)));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return make_error("control socket path too long");
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0) {
    int err = errno;
    if (why) {
      *why = (err == ENOENT || err == ENOTDIR) ? ConnectError::kNoSuchVm
             : (err == EACCES || err == EPERM) ? ConnectError::kAccessDenied
             : err == ECONNREFUSED             ? ConnectError::kStale
                                               : ConnectError::kOther;
    }
    return make_error(fmt::format("cannot connect to {}: {}", path, strerror(err)));
  }
  return ControlClient(std::move(fd));
}

Status ControlClient::send_request(const std::string& method, const nlohmann::json& params, uint64_t id) {
  nlohmann::json request = {{"id", id}, {"method", method}, {"params", params}};
  std::string text = request.dump() + "\n";
  size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = send(fd_.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(fmt::format("sending to the VM failed: {}", strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  return ok_status();
}

Result<std::string> ControlClient::read_line(std::chrono::steady_clock::time_point deadline, bool has_deadline) {
  while (true) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    int timeout_ms = -1;
    if (has_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return make_error("timed out waiting for the VM to answer");
      timeout_ms = static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return make_error("timed out waiting for the VM to answer");
    char chunk[4096];
    ssize_t n = read(fd_.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error("the VM closed the control connection (it stopped)");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

Result<nlohmann::json> ControlClient::call(const std::string& method, const nlohmann::json& params,
                                           std::chrono::milliseconds timeout,
                                           const std::function<void(const nlohmann::json&)>& on_event) {
  uint64_t id = next_id_++;
  if (auto status = send_request(method, params, id); !status) return status.error();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto line = read_line(deadline, timeout.count() >= 0);
    if (!line) return line.error();
    nlohmann::json response = nlohmann::json::parse(*line, nullptr, false);
    if (response.is_discarded() || !response.is_object()) return make_error("the VM sent an unreadable answer");
    if (response.value("id", nlohmann::json()) != nlohmann::json(id)) continue;
    if (response.contains("event")) {
      if (on_event) on_event(response);
      continue;
    }
    return response;
  }
}

Status ControlClient::stream(const std::string& method, const nlohmann::json& params,
                             const std::function<bool(const nlohmann::json&)>& on_line,
                             std::chrono::milliseconds timeout) {
  uint64_t id = next_id_++;
  if (auto status = send_request(method, params, id); !status) return status;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto line = read_line(deadline, timeout.count() >= 0);
    if (!line) return line.error();
    nlohmann::json message = nlohmann::json::parse(*line, nullptr, false);
    if (message.is_discarded()) continue;
    if (!on_line(message)) return ok_status();
  }
}

}  // namespace kvpc
