// `kvpc inspect NAME [DEVICE] [--json]`: device state and vCPU registers of a running VM.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/commands.h"
#include "tools/control_client.h"
#include "tools/exit_status.h"

namespace kvpc {

namespace {

// Indented "key: value" lines; numbers in hex (and decimal when they differ visibly).
void print_tree(const nlohmann::json& value, int depth) {
  const std::string indent(static_cast<size_t>(depth) * 2, ' ');
  for (const auto& [key, item] : value.items()) {
    if (item.is_object() || (item.is_array() && !item.empty() && item[0].is_object())) {
      fmt::print("{}{}:\n", indent, key);
      if (item.is_array()) {
        for (size_t i = 0; i < item.size(); ++i) {
          fmt::print("{}  [{}]\n", indent, i);
          print_tree(item[i], depth + 2);
        }
      } else {
        print_tree(item, depth + 1);
      }
    } else if (item.is_number_unsigned() || item.is_number_integer()) {
      const uint64_t n = item.get<uint64_t>();
      if (n < 10) fmt::print("{}{}: {}\n", indent, key, n);
      else fmt::print("{}{}: {:#x} ({})\n", indent, key, n, n);
    } else if (item.is_string()) {
      fmt::print("{}{}: {}\n", indent, key, item.get<std::string>());
    } else {
      fmt::print("{}{}: {}\n", indent, key, item.dump());
    }
  }
}

}  // namespace

void add_inspect_command(CLI::App& app, CommandAction& action) {
  struct Flags {
    std::string name;
    std::string device;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand(
      "inspect",
      "Dump a running VM's device state (UART registers, interrupt controllers, PCI config space, integration\n"
      "channels with queues and counters) and vCPU registers. DEVICE narrows it to one device (com1,\n"
      "pci-host-bridge, integration, ...), irqchip, vcpus or cpuN. The vCPUs are paused for the register read.");
  command->add_option("name", flags->name, "The VM's name")->required();
  command->add_option("device", flags->device, "Only this device (or irqchip, vcpus, cpuN)");
  command->add_flag("--json", flags->json, "Print the state as one JSON object");
  command->callback([flags, &action] {
    action = [flags]() -> int {
      ControlClient::ConnectError why;
      auto client = ControlClient::connect_to_vm(flags->name, &why);
      if (!client) {
        spdlog::error("{}", why == ControlClient::ConnectError::kAccessDenied
                                ? fmt::format("you may not control VM '{}' (its control socket refused you)", flags->name)
                                : fmt::format("there is no running VM named '{}' ({})", flags->name,
                                              client.error().message));
        return kExitError;
      }
      nlohmann::json params = nlohmann::json::object();
      if (!flags->device.empty()) params["device"] = flags->device;
      auto response = client->call("inspect", params, std::chrono::seconds(10));
      if (!response) {
        spdlog::error("{}: {}", flags->name, response.error().message);
        return kExitError;
      }
      if (!(*response).value("ok", false)) {
        if (flags->json) fmt::print("{}\n", (*response)["error"].dump());
        spdlog::error("{}: {}", flags->name, (*response)["error"].value("message", "failed"));
        return kExitCallFailed;
      }
      if (flags->json) {
        fmt::print("{}\n", (*response)["result"].dump());
      } else {
        print_tree((*response)["result"], 0);
      }
      return kExitOk;
    };
  });
}

}  // namespace kvpc
