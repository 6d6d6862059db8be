// `kvpc list`: the VMs of this user that are running, from their control sockets.
#include <unistd.h>

#include <fmt/format.h>

#include "tools/commands.h"
#include "tools/control_client.h"
#include "tools/exit_status.h"
#include "tools/runtime_dir.h"

namespace kvpc {

void add_list_command(CLI::App& app, CommandAction& action) {
  auto json = std::make_shared<bool>(false);
  CLI::App* list = app.add_subcommand("list", "List your running VMs (stale sockets of crashed runs are removed)");
  list->add_flag("--json", *json, "One JSON object: {\"vms\": [status, ...]}");
  list->callback([json, &action] {
    action = [json] {
      std::string dir = runtime_dir_path();
      nlohmann::json vms = nlohmann::json::array();
      for (const auto& name : list_vm_sockets(dir)) {
        ControlClient::ConnectError why;
        auto client = ControlClient::connect_to_path(socket_path_for(dir, name), &why);
        if (!client) {
          if (why == ControlClient::ConnectError::kStale) unlink(socket_path_for(dir, name).c_str());
          continue;
        }
        auto status = client->call("status", nlohmann::json::object(), std::chrono::seconds(5));
        if (!status || !(*status).value("ok", false)) continue;
        vms.push_back((*status)["result"]);
      }
      if (*json) {
        fmt::print("{}\n", nlohmann::json{{"vms", vms}}.dump());
        return kExitOk;
      }
      fmt::print("{:<20} {:<11} {:>8} {:>5} {:>9} {}\n", "NAME", "STATE", "PID", "CPUS", "MEMORY", "ACCEL");
      for (const auto& vm : vms) {
        fmt::print("{:<20} {:<11} {:>8} {:>5} {:>8}M {}\n", vm.value("vm", ""), vm.value("state", ""),
                   vm.value("pid", 0), vm.value("cpus", 0), vm.value("memory_bytes", uint64_t{0}) >> 20,
                   vm.value("accelerator", ""));
      }
      return kExitOk;
    };
  });
}

}  // namespace kvpc
