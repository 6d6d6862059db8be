// One function per `kvpc` verb, each in its own cmd_<verb>.cc: it adds its subcommand
// and flags to the root app and, when chosen, sets `action` to what runs it.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace kvpc {

using CommandAction = std::function<int()>;

void add_run_command(CLI::App& app, CommandAction& action);
void add_list_command(CLI::App& app, CommandAction& action);
void add_stop_command(CLI::App& app, CommandAction& action);
void add_pause_resume_commands(CLI::App& app, CommandAction& action);
void add_guest_operation_commands(CLI::App& app, CommandAction& action);
void add_guest_info_commands(CLI::App& app, CommandAction& action);
void add_disk_command(CLI::App& app, CommandAction& action);
void add_screenshot_command(CLI::App& app, CommandAction& action);
// Debugging (docs/debugging.md).
void add_stats_command(CLI::App& app, CommandAction& action);
void add_trace_command(CLI::App& app, CommandAction& action);
void add_inspect_command(CLI::App& app, CommandAction& action);
void add_replay_command(CLI::App& app, CommandAction& action);

}  // namespace kvpc
