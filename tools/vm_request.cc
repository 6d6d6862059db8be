#include "tools/vm_request.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/control_client.h"
#include "tools/exit_status.h"

namespace kvpc {

int call_vm(const std::string& name, const std::string& method, const nlohmann::json& params, bool json,
            std::chrono::milliseconds timeout, std::string (*describe)(const nlohmann::json& result)) {
  ControlClient::ConnectError why;
  auto client = ControlClient::connect_to_vm(name, &why);
  if (!client) {
    std::string message = why == ControlClient::ConnectError::kAccessDenied
                              ? fmt::format("you may not control VM '{}' (its control socket refused you)", name)
                              : fmt::format("there is no running VM named '{}' ({})", name, client.error().message);
    if (json) {
      fmt::print("{}\n", nlohmann::json{{"vm", name}, {"method", method}, {"ok", false}, {"error", message}}.dump());
    } else {
      spdlog::error("{}", message);
    }
    return kExitError;
  }
  auto response = client->call(method, params, timeout);
  if (!response) {
    spdlog::error("{}: {}", name, response.error().message);
    return kExitError;
  }
  bool ok = (*response).value("ok", false);
  if (json) {
    nlohmann::json out = ok ? (*response)["result"] : (*response)["error"];
    out["vm"] = name;
    out["method"] = method;
    out["ok"] = ok;
    fmt::print("{}\n", out.dump());
  } else if (ok) {
    fmt::print("{}\n", describe((*response)["result"]));
  } else {
    spdlog::error("{}: {}", name, (*response)["error"].value("message", "failed"));
  }
  return ok ? kExitOk : kExitCallFailed;
}

}  // namespace kvpc
