// ControlClient: talks to one VM's control socket (the CLI verbs use it).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace kvpc {

class ControlClient {
 public:
  enum class ConnectError { kNone, kNoSuchVm, kAccessDenied, kStale, kOther };

  // Connects to VM `name` in the runtime folder. On failure, `why` says which kind.
  static Result<ControlClient> connect_to_vm(const std::string& name, ConnectError* why = nullptr);
  static Result<ControlClient> connect_to_path(const std::string& path, ConnectError* why = nullptr);

  // Sends one request and waits for its response (the line with the same id). Lines with
  // the same id that carry an "event" member (progress of a waiting call) go to on_event.
  Result<nlohmann::json> call(const std::string& method, const nlohmann::json& params,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30),
                              const std::function<void(const nlohmann::json&)>& on_event = {});
  // Sends one request and hands every line that comes back to on_line until it returns false,
  // the server closes, or timeout (negative: none) passes.
  Status stream(const std::string& method, const nlohmann::json& params,
                const std::function<bool(const nlohmann::json&)>& on_line,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));

 private:
  explicit ControlClient(UniqueFd fd) : fd_(std::move(fd)) {}
  Status send_request(const std::string& method, const nlohmann::json& params, uint64_t id);
  // Reads one line; empty optional-like error on timeout/close.
  Result<std::string> read_line(std::chrono::steady_clock::time_point deadline, bool has_deadline);

  UniqueFd fd_;
  std::string buffer_;
  uint64_t next_id_ = 1;
};

}  // namespace kvpc
