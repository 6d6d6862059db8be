// `kvpc stop NAME`: stop a running VM (its `kvpc run` exits with status 0).
#include <fmt/format.h>

#include "tools/commands.h"
#include "tools/vm_request.h"

namespace kvpc {

void add_stop_command(CLI::App& app, CommandAction& action) {
  struct Flags {
    std::string name;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* stop = app.add_subcommand("stop", "Stop a running VM now (like pulling the plug; the guest is not asked)");
  stop->add_option("name", flags->name, "The VM's name")->required();
  stop->add_flag("--json", flags->json, "Print the answer as one JSON object");
  stop->callback([flags, &action] {
    action = [flags] {
      return call_vm(flags->name, "stop", nlohmann::json::object(), flags->json, std::chrono::seconds(10),
                     [](const nlohmann::json& result) { return fmt::format("{}: stopping", result.value("vm", "")); });
    };
  });
}

}  // namespace kvpc
