// `kvpc pause NAME` / `kvpc resume NAME`: freeze and thaw every vCPU of a VM.
#include <fmt/format.h>

#include "tools/commands.h"
#include "tools/vm_request.h"

namespace kvpc {

void add_pause_resume_commands(CLI::App& app, CommandAction& action) {
  struct Flags {
    std::string name;
    bool json = false;
  };
  for (const char* verb : {"pause", "resume"}) {
    auto flags = std::make_shared<Flags>();
    std::string method = verb;
    CLI::App* command = app.add_subcommand(
        verb, method == "pause" ? "Pause a running VM: its vCPUs stop; devices and the control socket keep answering"
                                : "Resume a paused VM");
    command->add_option("name", flags->name, "The VM's name")->required();
    command->add_flag("--json", flags->json, "Print the answer as one JSON object");
    command->callback([flags, method, &action] {
      action = [flags, method] {
        return call_vm(flags->name, method, nlohmann::json::object(), flags->json, std::chrono::seconds(10),
                       [](const nlohmann::json& result) {
                         return fmt::format("{}: {}", result.value("vm", ""), result.value("state", ""));
                       });
      };
    });
  }
}

}  // namespace kvpc
