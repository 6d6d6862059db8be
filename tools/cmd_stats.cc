// `kvpc stats NAME [--json] [--watch]`: the VM's exit statistics, once or live (like kvm_stat).
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/commands.h"
#include "tools/control_client.h"
#include "tools/exit_status.h"

namespace kvpc {

namespace {

struct StatsFlags {
  std::string name;
  bool json = false;
  bool watch = false;
  double interval = 1.0;
  uint64_t count = 0;  // --watch: stop after this many refreshes (0 = until the VM ends or Ctrl-C)
};

std::string range_text(const nlohmann::json& row) {
  const uint64_t base = row.value("base", uint64_t{0});
  const uint64_t length = row.value("length", uint64_t{1});
  return length <= 1 ? fmt::format("{:#x}", base) : fmt::format("{:#x}-{:#x}", base, base + length - 1);
}

// One table: totals, and with `previous` (watch mode) the rate since it.
void print_table(const nlohmann::json& stats, const nlohmann::json* previous, double seconds) {
  const nlohmann::json& total = stats["total"];
  auto rate = [&](const nlohmann::json& now, const nlohmann::json* before) -> std::string {
    if (before == nullptr || seconds <= 0) return "";
    const uint64_t a = now.get<uint64_t>();
    const uint64_t b = before->is_number() ? before->get<uint64_t>() : 0;
    return fmt::format("{:.0f}", static_cast<double>(a >= b ? a - b : 0) / seconds);
  };
  fmt::print("VM {} ({}), {} vCPU(s), boot {}\n", stats.value("vm", ""), stats.value("accelerator", ""),
             stats["vcpus"].size(), stats.value("boots", 0));
  fmt::print("{:<24} {:>14} {:>12}\n", "exit reason", "total", previous ? "per second" : "");
  for (const auto& [reason, count] : total["exits"].items()) {
    const nlohmann::json* before = nullptr;
    if (previous && (*previous)["total"]["exits"].contains(reason)) before = &(*previous)["total"]["exits"][reason];
    nlohmann::json zero = 0;
    fmt::print("{:<24} {:>14} {:>12}\n", reason, count.get<uint64_t>(),
               rate(count, previous ? (before ? before : &zero) : nullptr));
  }
  for (const char* key : {"pio_reads", "pio_writes", "mmio_reads", "mmio_writes", "unclaimed_pio", "unclaimed_mmio",
                          "interrupted"}) {
    fmt::print("{:<24} {:>14} {:>12}\n", key, total[key].get<uint64_t>(),
               rate(total[key], previous ? &(*previous)["total"][key] : nullptr));
  }
  fmt::print("\n{:<18} {:<5} {:<16} {:>12} {:>12} {:>12} {:>12}\n", "device", "space", "range", "reads", "writes",
             previous ? "accesses/s" : "", "mean time");
  const auto& rows = total["devices"];
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const uint64_t accesses = row["reads"].get<uint64_t>() + row["writes"].get<uint64_t>();
    std::string per_second;
    if (previous && i < (*previous)["total"]["devices"].size() && seconds > 0) {
      const auto& before = (*previous)["total"]["devices"][i];
      const uint64_t was = before["reads"].get<uint64_t>() + before["writes"].get<uint64_t>();
      per_second = fmt::format("{:.0f}", static_cast<double>(accesses - std::min(accesses, was)) / seconds);
    }
    std::string mean = row.contains("time_mean_ns") ? fmt::format("{:.0f} ns", row["time_mean_ns"].get<double>()) : "-";
    fmt::print("{:<18} {:<5} {:<16} {:>12} {:>12} {:>12} {:>12}\n", row.value("device", ""), row.value("space", ""),
               range_text(row), row["reads"].get<uint64_t>(), row["writes"].get<uint64_t>(), per_second, mean);
  }
}

int run_stats(const StatsFlags& flags) {
  ControlClient::ConnectError why;
  auto client = ControlClient::connect_to_vm(flags.name, &why);
  if (!client) {
    spdlog::error("{}", why == ControlClient::ConnectError::kAccessDenied
                            ? fmt::format("you may not control VM '{}' (its control socket refused you)", flags.name)
                            : fmt::format("there is no running VM named '{}' ({})", flags.name, client.error().message));
    return kExitError;
  }
  nlohmann::json previous;
  auto previous_time = std::chrono::steady_clock::now();
  for (uint64_t round = 0;; ++round) {
    auto response = client->call("stats", nlohmann::json::object(), std::chrono::seconds(10));
    if (!response) {
      if (round > 0) return kExitOk;  // watching until the VM went away
      spdlog::error("{}: {}", flags.name, response.error().message);
      return kExitError;
    }
    if (!(*response).value("ok", false)) {
      spdlog::error("{}: {}", flags.name, (*response)["error"].value("message", "failed"));
      return kExitCallFailed;
    }
    nlohmann::json stats = (*response)["result"];
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - previous_time).count();
    if (flags.json) {
      if (flags.watch && round > 0) stats["interval_seconds"] = seconds;
      fmt::print("{}\n", stats.dump());
    } else {
      if (flags.watch) fmt::print("\n--- {:.3f} s ---\n", seconds);
      print_table(stats, round > 0 ? &previous : nullptr, seconds);
    }
    std::fflush(stdout);
    if (!flags.watch || (flags.count != 0 && round + 1 >= flags.count)) return kExitOk;
    previous = std::move(stats);
    previous_time = now;
    std::this_thread::sleep_for(std::chrono::duration<double>(flags.interval));
  }
}

}  // namespace

void add_stats_command(CLI::App& app, CommandAction& action) {
  auto flags = std::make_shared<StatsFlags>();
  CLI::App* command = app.add_subcommand(
      "stats",
      "Exit statistics of a running VM: every exit reason per vCPU and for the VM, every port and MMIO range with its\n"
      "device name, accesses and a histogram of the time the device took to answer (always collected). --watch\n"
      "refreshes like kvm_stat, with rates per second.");
  command->add_option("name", flags->name, "The VM's name")->required();
  command->add_flag("--json", flags->json, "Print the statistics as JSON (one object per refresh with --watch)");
  command->add_flag("--watch", flags->watch, "Refresh until the VM ends or Ctrl-C, showing rates per second");
  command->add_option("--interval", flags->interval, "Seconds between refreshes with --watch (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  command->add_option("--count", flags->count, "With --watch: stop after this many refreshes");
  command->callback([flags, &action] {
    action = [flags] { return run_stats(*flags); };
  });
}

}  // namespace kvpc
