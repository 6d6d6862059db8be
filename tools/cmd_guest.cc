// `kvpc guest NAME`: the IVMGuestOS properties. `kvpc events NAME`: the VM's events, live.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/commands.h"
#include "integration/hresult.h"
#include "tools/control_client.h"
#include "tools/exit_status.h"
#include "tools/integration_json.h"

namespace kvpc {

namespace {

// Why a connection failed, in the user's words: the socket's permissions (file layer) or no VM.
std::string refused_or_absent(const std::string& name, ControlClient::ConnectError why) {
  if (why == ControlClient::ConnectError::kAccessDenied) {
    return fmt::format("you may not control VM '{}' (its control socket refused you: permission denied)", name);
  }
  return fmt::format("there is no running VM named '{}' you may reach", name);
}

// A VM that cannot be reached or does not answer: with --json, one JSON object in the shape of
// the call's answer (vm, method, hresult, hresult_name, error), so a script reading stdout
// always gets JSON; otherwise the message on stderr. Connection failures carry the API's
// answers for them (VM_E_VM_UNKNOWN, E_ACCESSDENIED), as `kvpc logoff` does.
int report_unreachable(const std::string& name, const char* method, bool json, HRESULT hresult,
                       const std::string& message) {
  if (!json) {
    spdlog::error("{}", message);
    return kExitError;
  }
  nlohmann::json result = {{"vm", name}, {"method", method}, {"error", message}};
  add_hresult(result, hresult);
  fmt::print("{}\n", result.dump());
  return kExitError;
}

int report_connect_failure(const std::string& name, const char* method, bool json, ControlClient::ConnectError why) {
  const bool denied = why == ControlClient::ConnectError::kAccessDenied;
  return report_unreachable(name, method, json, denied ? E_ACCESSDENIED : VM_E_VM_UNKNOWN, refused_or_absent(name, why));
}

}  // namespace

void add_guest_info_commands(CLI::App& app, CommandAction& action) {
  struct Flags {
    std::string name;
    bool json = false;
    int64_t count = -1;
  };
  auto guest_flags = std::make_shared<Flags>();
  CLI::App* guest = app.add_subcommand("guest", "Show the IVMGuestOS properties (OS name, versions, heartbeat, ...) "
                                                "with the HRESULT of each");
  guest->add_option("name", guest_flags->name, "The VM's name")->required();
  guest->add_flag("--json", guest_flags->json, "One JSON object: vm, method, hresult, properties {Name: {value, hresult, hresult_name}}");
  guest->callback([guest_flags, &action] {
    action = [guest_flags] {
      ControlClient::ConnectError why;
      auto client = ControlClient::connect_to_vm(guest_flags->name, &why);
      if (!client) return report_connect_failure(guest_flags->name, "guest", guest_flags->json, why);
      auto response = client->call("guest", nlohmann::json::object(), std::chrono::seconds(30));
      if (!response || !(*response).value("ok", false)) {
        return report_unreachable(guest_flags->name, "guest", guest_flags->json, E_FAIL,
                                  fmt::format("{}: the VM did not answer", guest_flags->name));
      }
      const auto& result = (*response)["result"];
      if (guest_flags->json) {
        fmt::print("{}\n", result.dump());
      } else if (result.contains("properties")) {
        for (const auto& [property, entry] : result["properties"].items()) {
          if (entry.contains("value")) {
            fmt::print("{:<30} {}\n", property, entry["value"].is_string() ? entry["value"].get<std::string>()
                                                                          : entry["value"].dump());
          } else {
            fmt::print("{:<30} ({} {})\n", property, entry.value("hresult_name", ""), entry.value("hresult", ""));
          }
        }
      } else {
        fmt::print("{}: {} ({})\n", guest_flags->name, result.value("hresult_name", ""), result.value("hresult", ""));
      }
      return result.value("hresult", "") == "0x00000000" ? kExitOk : kExitCallFailed;
    };
  });

  auto event_flags = std::make_shared<Flags>();
  CLI::App* events = app.add_subcommand("events", "Follow the VM's events (OnStateChange, OnGuestLogoff, "
                                                  "OnHeartbeatStopped, ...) until it stops or Ctrl-C");
  events->add_option("name", event_flags->name, "The VM's name")->required();
  events->add_flag("--json", event_flags->json, "One JSON object per line per event");
  events->add_option("--count", event_flags->count, "Stop after this many events");
  events->callback([event_flags, &action] {
    action = [event_flags] {
      ControlClient::ConnectError why;
      auto client = ControlClient::connect_to_vm(event_flags->name, &why);
      if (!client) return report_connect_failure(event_flags->name, "events", event_flags->json, why);
      int64_t seen = 0;
      bool refused = false;
      auto status = client->stream("events", nlohmann::json::object(), [&](const nlohmann::json& line) {
        if (!line.contains("event")) {
          const auto& result = line.value("result", nlohmann::json::object());
          if (result.value("hresult", "") != "0x00000000") {
            spdlog::error("{}: {} ({})", event_flags->name, result.value("hresult_name", ""), result.value("hresult", ""));
            refused = true;
            return false;
          }
          if (!event_flags->json) fmt::print("{}: following events (state {})\n", event_flags->name, result.value("state", ""));
          return true;
        }
        if (event_flags->json) {
          fmt::print("{}\n", line.dump());
        } else {
          nlohmann::json details = line;
          details.erase("id");
          details.erase("event");
          fmt::print("{} {}\n", line.value("event", ""), details.empty() ? "" : details.dump());
        }
        std::fflush(stdout);
        return event_flags->count < 0 || ++seen < event_flags->count;
      });
      if (refused) return kExitCallFailed;
      // The VM going away ends the stream: that is the normal end.
      (void)status;
      return kExitOk;
    };
  });
}

}  // namespace kvpc
