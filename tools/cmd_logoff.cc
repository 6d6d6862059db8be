// `kvpc logoff NAME`: IVMGuestOS::Logoff — log off every user of the guest OS.
// `kvpc shutdown NAME` / `kvpc restart NAME`: IVMGuestOS::Shutdown / Restart.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/commands.h"
#include "tools/control_client.h"
#include "tools/exit_status.h"
#include "tools/integration_json.h"

namespace kvpc {

namespace {

struct OperationFlags {
  std::string name;
  bool wait = false;
  bool force = false;
  bool json = false;
  int64_t timeout_ms = -1;
  int64_t ack_timeout_ms = -1;
};

// Prints the outcome; returns the exit status (0 only when the call — and with --wait the task — succeeded).
int report(const std::string& method, const OperationFlags& flags, const nlohmann::json& result) {
  bool call_ok = result.value("hresult", "") == "0x00000000";
  bool task_ok = true;
  if (result.contains("task")) {
    const auto& task = result["task"];
    task_ok = !flags.wait || (task.value("is_complete", false) && task.value("error", "") == "0x00000000");
  }
  if (flags.json) {
    fmt::print("{}\n", result.dump());
  } else {
    std::string name = result.value("hresult_name", "");
    fmt::print("{}: {} returned {} ({})\n", flags.name, method, name.empty() ? "?" : name, result.value("hresult", ""));
    if (result.contains("task")) {
      const auto& task = result["task"];
      if (task.value("is_complete", false)) {
        std::string error_name = task.value("error_name", "");
        fmt::print("{}: task {} {}: {} ({}), {}% — {}\n", flags.name, task.value("id", ""),
                   task.value("result_name", ""), error_name.empty() ? "?" : error_name, task.value("error", ""),
                   task.value("percent_completed", 0), task.value("error_description", "") == "" ? std::string("done") : task.value("error_description", ""));
      } else {
        fmt::print("{}: task {} running ({}%); `kvpc events {}` follows it\n", flags.name, task.value("id", ""),
                   task.value("percent_completed", 0), flags.name);
      }
    }
  }
  return call_ok && task_ok ? kExitOk : kExitCallFailed;
}

int run_operation(const std::string& method, const OperationFlags& flags) {
  ControlClient::ConnectError why;
  auto client = ControlClient::connect_to_vm(flags.name, &why);
  if (!client) {
    // The VM is not there: the same answer the API gives for an unknown VM, or for a caller
    // the socket's permissions keep out.
    nlohmann::json result = {{"vm", flags.name}, {"method", method}};
    bool denied = why == ControlClient::ConnectError::kAccessDenied;
    add_hresult(result, denied ? E_ACCESSDENIED : VM_E_VM_UNKNOWN);
    if (!flags.json) {
      spdlog::error("{}", denied ? fmt::format("you may not control VM '{}'", flags.name)
                                 : fmt::format("there is no running VM named '{}'", flags.name));
    }
    report(method, flags, result);
    return kExitCallFailed;
  }
  nlohmann::json params = {{"wait", flags.wait}};
  if (method != "logoff") params["force"] = flags.force;
  if (flags.timeout_ms >= 0) params["timeout_ms"] = flags.timeout_ms;
  if (flags.ack_timeout_ms >= 0) params["ack_timeout_ms"] = flags.ack_timeout_ms;
  auto on_progress = [&](const nlohmann::json& event) {
    if (!flags.json) fmt::print("{}: {} {}%\n", flags.name, method, event.value("percent_completed", 0));
  };
  // The task deadline bounds the wait; the socket timeout only guards against a dead VM.
  auto response = client->call(method, params, std::chrono::hours(25), on_progress);
  if (!response) {
    spdlog::error("{}: {}", flags.name, response.error().message);
    return kExitError;
  }
  if (!(*response).value("ok", false)) {
    spdlog::error("{}: {}", flags.name, (*response)["error"].value("message", "failed"));
    return kExitError;
  }
  return report(method, flags, (*response)["result"]);
}

void add_operation(CLI::App& app, CommandAction& action, const std::string& method, const std::string& help) {
  auto flags = std::make_shared<OperationFlags>();
  CLI::App* command = app.add_subcommand(method, help);
  command->add_option("name", flags->name, "The VM's name")->required();
  command->add_flag("--wait", flags->wait, "Wait for the task to finish, printing its progress");
  if (method != "logoff") command->add_flag("--force", flags->force, "Forced: the guest does not let programs object");
  command->add_option("--timeout-ms", flags->timeout_ms,
                      "Task deadline in ms (default: the VM's, 60000 for logoff, 120000 for shutdown/restart); the "
                      "task ends with VM_E_TIMED_OUT when the guest has not finished by then");
  command->add_option("--ack-timeout-ms", flags->ack_timeout_ms,
                      "How long the guest agent has to acknowledge the request, in ms (default 5000); the call "
                      "returns VM_E_TIMED_OUT past it");
  command->add_flag("--json", flags->json,
                    "One JSON object: vm, method, hresult, hresult_name, and task {id, is_complete, result, "
                    "percent_completed, error, error_name, error_description}");
  command->callback([flags, method, &action] { action = [flags, method] { return run_operation(method, *flags); }; });
}

}  // namespace

void add_guest_operation_commands(CLI::App& app, CommandAction& action) {
  add_operation(app, action, "logoff",
                "IVMGuestOS::Logoff: log off every user of the guest OS. Exit status 0 only when the call (and, with "
                "--wait, the task) succeeded; 10 otherwise, with the HRESULT printed");
  add_operation(app, action, "shutdown", "IVMGuestOS::Shutdown: ask the guest OS to shut down");
  add_operation(app, action, "restart", "IVMGuestOS::Restart: ask the guest OS to restart");
}

}  // namespace kvpc
