// kvpc: a KVM-based x86 virtual machine monitor with Virtual PC–style integration components.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "tools/commands.h"
#include "tools/exit_status.h"
#include "vmm/startup_clock.h"

int main(int argc, char** argv) {
  kvpc::mark_main_entered();
  auto logger = spdlog::stderr_logger_mt("kvpc");
  logger->set_pattern("kvpc: %^%l%$: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{
      "kvpc — a KVM-based x86 virtual machine monitor that boots guest images from the command line and drives them\n"
      "through Virtual PC-style integration components.\n\n"
      "Exit statuses of `kvpc run`: 0 the guest powered off or was stopped; (v << 1) | 1 after the guest wrote v to\n"
      "isa-debug-exit (port 0x501); 2 kvpc error (bad arguments, bad image); 4 /dev/kvm missing or not accessible;\n"
      "6 guest triple fault; 8 guest internal error; 12 a kvpc thread broke its seccomp filter. Other verbs: 0 success, 2 error, 10 the VM answered with a failure.",
      "kvpc"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kvpc 0.1.0");
  kvpc::CommandAction action;
  kvpc::add_run_command(app, action);
  kvpc::add_list_command(app, action);
  kvpc::add_stop_command(app, action);
  kvpc::add_pause_resume_commands(app, action);
  kvpc::add_guest_operation_commands(app, action);
  kvpc::add_guest_info_commands(app, action);
  kvpc::add_disk_command(app, action);
  kvpc::add_screenshot_command(app, action);
  kvpc::add_stats_command(app, action);
  kvpc::add_trace_command(app, action);
  kvpc::add_inspect_command(app, action);
  kvpc::add_replay_command(app, action);
  // CLI11 reports an unknown verb as "A subcommand is required"; say what was wrong instead.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) known |= sub->check_name(argv[1]);
    if (!known) {
      spdlog::error("unknown command '{}'; `kvpc --help` lists the commands", argv[1]);
      return kvpc::kExitError;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? kvpc::kExitOk : kvpc::kExitError;
  }
  return action ? action() : kvpc::kExitError;
}
