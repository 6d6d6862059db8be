// `kvpc trace NAME CATEGORIES|off`: switch a running VM's event trace (docs/debugging.md).
#include <fmt/format.h>

#include "tools/commands.h"
#include "tools/vm_request.h"

namespace kvpc {

void add_trace_command(CLI::App& app, CommandAction& action) {
  struct Flags {
    std::string name;
    std::string categories;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand(
      "trace",
      "Switch a running VM's event trace: a comma-separated list of pio, mmio, irq, integration, devices (or all),\n"
      "or off. Without categories, shows what is traced. Lines go to the VM's --trace-file (stderr by default).");
  command->add_option("name", flags->name, "The VM's name")->required();
  command->add_option("categories", flags->categories, "pio,mmio,irq,integration,devices | all | off");
  command->add_flag("--json", flags->json, "Print the answer as one JSON object");
  command->callback([flags, &action] {
    action = [flags] {
      nlohmann::json params = nlohmann::json::object();
      if (!flags->categories.empty()) params["categories"] = flags->categories;
      return call_vm(flags->name, "trace", params, flags->json, std::chrono::seconds(10),
                     [](const nlohmann::json& result) {
                       return fmt::format("{}: tracing {} to {}", result.value("vm", ""),
                                          result.value("categories", ""), result.value("destination", ""));
                     });
    };
  });
}

}  // namespace kvpc
