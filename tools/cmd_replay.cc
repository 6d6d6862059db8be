// `kvpc replay FILE`: play an --record-io recording back against fresh devices (no KVM, no CPU)
// and check every answer and interrupt (vmm/machine/io_replay.h, docs/io-recording.md).
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "tools/commands.h"
#include "tools/exit_status.h"
#include "vmm/machine/io_replay.h"

namespace kvpc {

inline constexpr int kExitReplayMismatch = 1;

void add_replay_command(CLI::App& app, CommandAction& action) {
  struct Flags {
    std::string file;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand(
      "replay",
      "Replay a `kvpc run --record-io` recording against fresh device models, without KVM and without a CPU, and\n"
      "check that every read answer and interrupt event matches. Exit status 0: everything matched; 1: the devices\n"
      "answered differently (the first difference is named); 2: the file is not a valid recording.");
  command->add_option("file", flags->file, "The recording")->required();
  command->add_flag("--json", flags->json, "Print the result as one JSON object");
  command->callback([flags, &action] {
    action = [flags]() -> int {
      std::ifstream in(flags->file, std::ios::binary);
      if (!in) {
        spdlog::error("replay {}: cannot open the file", flags->file);
        return kExitError;
      }
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto report = replay_io(bytes);
      if (!report) {
        if (flags->json) {
          fmt::print("{}\n", nlohmann::json{{"file", flags->file}, {"ok", false}, {"error", report.error().message}}.dump());
        }
        spdlog::error("replay {}: {}", flags->file, report.error().message);
        return kExitError;
      }
      const ReplayReport& r = *report;
      if (flags->json) {
        nlohmann::json out = {{"file", flags->file},         {"ok", !r.mismatch},          {"vm", r.header.name},
                              {"accelerator", r.header.accelerator}, {"records", r.records}, {"accesses", r.accesses},
                              {"reads_checked", r.reads_checked},     {"interrupts", r.interrupts},
                              {"inputs", r.inputs},                   {"boards", r.boards}};
        if (r.mismatch) {
          out["mismatch"] = *r.mismatch;
          out["mismatch_record"] = r.mismatch_record;
        }
        fmt::print("{}\n", out.dump());
      } else if (r.mismatch) {
        fmt::print("replay {}: MISMATCH: {}\n", flags->file, *r.mismatch);
      } else {
        fmt::print("replay {}: match: {} accesses ({} reads checked), {} interrupt events, {} host inputs, {} board(s)\n",
                   flags->file, r.accesses, r.reads_checked, r.interrupts, r.inputs, r.boards);
      }
      return r.mismatch ? kExitReplayMismatch : kExitOk;
    };
  });
}

}  // namespace kvpc
