// `kvpc run`: boot a guest and stay with it until it ends.
#include <cstdlib>
#include <grp.h>
#include <pwd.h>

#include <optional>

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "display/display_process.h"
#include "tools/commands.h"
#include "tools/disk_flags.h"
#include "tools/exit_status.h"
#include "tools/run_observers.h"
#include "tools/vm_session.h"
#include "vmm/boot/kernel_format.h"

namespace kvpc {

namespace {

struct RunFlags {
  std::string kernel, initrd, cmdline, bios, kernel_format = "auto";
  std::string mem = "256M";
  uint32_t cpus = 1;
  std::string name = "kvpc";
  std::string serial = "stdio", debugcon = "none";
  std::string on_triple_fault = "stop";
  std::string accel = "kvm";
  bool headless = false;
  std::string display = "auto", vga_font;
  std::string vga_rom;  // --vga-rom
  bool quiet = false;
  std::string seccomp = "on";
  std::vector<std::string> allow_users, allow_groups;
  std::vector<std::string> disks;  // --disk (tools/disk_flags.h)
  std::string boot;                // --boot
  std::string gdb;
  bool gdb_wait = false;
  std::string trace, trace_file, record_io;  // debugging (tools/run_observers.h)
};

// A user or group given by name or number.
template <typename Lookup>
Result<std::vector<uint32_t>> resolve_ids(const std::vector<std::string>& names, const char* flag, Lookup lookup) {
  std::vector<uint32_t> ids;
  for (const auto& name : names) {
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      ids.push_back(static_cast<uint32_t>(std::stoul(name)));
      continue;
    }
    auto id = lookup(name);
    if (!id) return make_error(fmt::format("{} {}: no such name on this system", flag, name));
    ids.push_back(*id);
  }
  return ids;
}

Result<MachineConfig> to_config(const RunFlags& flags) {
  MachineConfig config;
  config.name = flags.name;
  auto mem = parse_size(flags.mem);
  if (!mem) return make_error(fmt::format("--mem {}: {}", flags.mem, mem.error().message));
  config.ram_bytes = *mem;
  config.cpus = flags.cpus;
  if (flags.accel == "kvm") config.accelerator = Accelerator::kKvm;
  else if (flags.accel == "emu") config.accelerator = Accelerator::kEmu;
  else if (flags.accel == "auto") config.accelerator = Accelerator::kAuto;
  else return make_error(fmt::format("--accel {}: use kvm, emu or auto", flags.accel));
  if (!flags.kernel.empty()) config.kernel_path = flags.kernel;
  if (!flags.initrd.empty()) config.initrd_path = flags.initrd;
  if (!flags.bios.empty()) config.bios_path = flags.bios;
  if (!flags.initrd.empty() && flags.kernel.empty()) return make_error("--initrd needs --kernel");
  auto format = parse_kernel_format(flags.kernel_format);
  if (!format) return make_error(fmt::format("--kernel-format: {}", format.error().message));
  config.kernel_format = *format;
  config.cmdline = flags.cmdline;
  config.serial = flags.serial;
  config.debugcon = flags.debugcon;
  if (flags.on_triple_fault == "reset") config.reset_on_triple_fault = true;
  else if (flags.on_triple_fault != "stop") return make_error("--on-triple-fault takes stop or reset");
  if (auto status = apply_disk_flags(flags.disks, flags.boot, config); !status) return status.error();
  // --display: sdl, none, or auto (sdl when a display server is there); --headless = none.
  if (flags.display != "sdl" && flags.display != "none" && flags.display != "auto") {
    return make_error(fmt::format("--display {}: use sdl or none", flags.display));
  }
  const bool have_display = getenv("DISPLAY") != nullptr || getenv("WAYLAND_DISPLAY") != nullptr;
  if (flags.headless && flags.display == "sdl") return make_error("--headless and --display sdl exclude each other");
  if (flags.display == "sdl" && !have_display) {
    return make_error("--display sdl needs a display server: neither $DISPLAY nor $WAYLAND_DISPLAY is set");
  }
  // auto also needs the window program (kvpc-display, next to kvpc or $KVPC_DISPLAY_HELPER).
  const bool auto_window = have_display && find_display_helper().has_value();
  config.display = flags.headless ? "none" : flags.display == "auto" ? (auto_window ? "sdl" : "none") : flags.display;
  config.vga_font = flags.vga_font;
  config.vga_rom = flags.vga_rom;
  return config;
}

}  // namespace

void add_run_command(CLI::App& app, CommandAction& action) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* run = app.add_subcommand(
      "run",
      "Boot a guest and run it until it powers off. Without --kernel or --bios it boots kvpc's built-in guest (a tiny\n"
      "64-bit test OS with a serial console). The VM gets a control socket named after --name, so other kvpc verbs\n"
      "(list, stop, pause, resume, logoff, ...) can reach it.");
  run->add_option("--kernel", flags->kernel,
                  "Guest kernel: a Multiboot v1 kernel (ELF32 or a.out kludge), a Linux bzImage (64-bit boot "
                  "protocol) or vmlinux with a PVH note, a kvpc64 image, or a flat binary (loaded at 0x10000, "
                  "started in real mode at 1000:0000)")
      ->check(CLI::ExistingFile);
  run->add_option("--kernel-format", flags->kernel_format,
                  "Force the kernel's format instead of detecting it: auto, multiboot, kvpc64, flat, linux (bzImage), "
                  "pvh (vmlinux)");
  run->add_option("--initrd", flags->initrd, "Initial ramdisk: module 0 for Multiboot and PVH kernels, the boot protocol's ramdisk for a bzImage")
      ->check(CLI::ExistingFile);
  run->add_option("--cmdline", flags->cmdline, "Kernel command line (the built-in guest reads options from it; a Linux kernel given none gets kvpc's default, docs/linux-guests.md)");
  run->add_option("--bios", flags->bios,
                  "Firmware image (e.g. SeaBIOS bios.bin) mapped below 4 GiB and started at the reset vector")
      ->check(CLI::ExistingFile);
  run->add_option("--mem", flags->mem, "Guest RAM: a size such as 64M, 1G (default 256M)");
  run->add_option("--cpus", flags->cpus, "Number of vCPUs (default 1)");
  run->add_option("--name", flags->name, "VM name for list/stop/logoff: letters, digits, . _ - (default kvpc)");
  run->add_option("--serial", flags->serial, "COM1 output: stdio, file:PATH or none (default stdio)");
  run->add_option("--debugcon", flags->debugcon, "Debug console on ports 0xE9 and 0x402 (where SeaBIOS logs): stdio, file:PATH or none (default none)");
  run->add_option("--on-triple-fault", flags->on_triple_fault, "What a guest triple fault does: stop or reset (default stop)");
  run->add_option("--accel", flags->accel,
                  "Accelerator: kvm (default), emu (kvpc's x86 interpreter: slow; 64-bit, Multiboot, real-mode and --bios guests such as SeaBIOS, "
                  "no /dev/kvm needed) or auto (kvm when /dev/kvm opens, else emu)");
  run->add_option("--allow-user", flags->allow_users,
                  "Also let this user (name or uid) call the VM's integration API (logoff, shutdown, guest, events); "
                  "repeatable. The owner and root always may. Granted through a POSIX ACL on the control socket "
                  "(needs a runtime folder on a file system with ACLs)")
      ->take_all();
  run->add_option("--allow-group", flags->allow_groups,
                  "Also let members of this group (name or gid) call the integration API; repeatable")
      ->take_all();
  run->add_option("--disk", flags->disks, kDiskFlagHelp)->take_all();
  run->add_option("--boot", flags->boot, kBootFlagHelp);
  run->add_option("--gdb", flags->gdb,
                  "Serve the GDB remote protocol on tcp:HOST:PORT (e.g. tcp:127.0.0.1:1234; PORT 0 picks one): "
                  "registers, memory by guest-virtual address, breakpoints, watchpoints, step; vCPUs are threads "
                  "(docs/debugging.md)");
  run->add_flag("--gdb-wait", flags->gdb_wait, "With --gdb: hold the guest before its first instruction until gdb "
                                               "connects and continues");
  run->add_option("--trace", flags->trace,
                  "Trace events, one line each: a comma-separated list of pio, mmio, irq, integration, devices (or all). "
                  "Switch at run time with `kvpc trace NAME ...`");
  run->add_option("--trace-file", flags->trace_file,
                  "Where trace lines go: a file path, or stderr (default). Also used by `kvpc trace` at run time");
  run->add_option("--record-io", flags->record_io,
                  "Record every port/MMIO access, interrupt event and host input to FILE for `kvpc replay FILE`");
  run->add_flag("--headless", flags->headless, "No display window (same as --display none)");
  run->add_option("--display", flags->display,
                  "Screen: sdl (a window; Ctrl+Alt+G grabs input, closing asks the guest to shut down, a second "
                  "close stops it; drawn by the kvpc-display program next to kvpc, or $KVPC_DISPLAY_HELPER) or none "
                  "(headless; `kvpc screenshot` still works). Default: sdl when $DISPLAY or $WAYLAND_DISPLAY is set "
                  "and kvpc-display is there, else none");
  run->add_option("--vga-font", flags->vga_font,
                  "PSF console font (PSF1/PSF2, .gz ok, 8 pixels wide) preloaded as the VGA text font for guests "
                  "without a VGA BIOS (default /usr/share/consolefonts/Uni2-VGA16.psf.gz)");
  run->add_option("--vga-rom", flags->vga_rom,
                  "VGA option ROM the firmware (--bios) runs, or none (firmware screen output then goes to COM1 "
                  "only). Default /usr/share/seabios/vgabios-stdvga.bin when it exists");
  run->add_flag("--quiet,-q", flags->quiet, "No status lines from kvpc on stderr (errors still print)");
  run->add_option("--seccomp", flags->seccomp,
                  "on (default): vCPU and event-loop threads run under a seccomp filter, and a forbidden system call "
                  "stops kvpc with status 12 naming it; off: no filter, for debugging (docs/security.md)")
      ->check(CLI::IsMember({"on", "off"}));
  run->callback([flags, &action] {
    action = [flags] {
      auto config = to_config(*flags);
      if (!config) {
        spdlog::error("{}", config.error().message);
        return kExitError;
      }
      SessionOptions options;
      options.quiet = flags->quiet;
      if (flags->gdb_wait && flags->gdb.empty()) {
        spdlog::error("--gdb-wait needs --gdb tcp:HOST:PORT");
        return kExitError;
      }
      options.gdb = flags->gdb;
      options.gdb_wait = flags->gdb_wait;
      options.seccomp = flags->seccomp == "on";
      auto uids = resolve_ids(flags->allow_users, "--allow-user", [](const std::string& name) -> std::optional<uint32_t> {
        const passwd* entry = getpwnam(name.c_str());
        return entry ? std::optional<uint32_t>(entry->pw_uid) : std::nullopt;
      });
      auto gids = resolve_ids(flags->allow_groups, "--allow-group", [](const std::string& name) -> std::optional<uint32_t> {
        const group* entry = getgrnam(name.c_str());
        return entry ? std::optional<uint32_t>(entry->gr_gid) : std::nullopt;
      });
      if (!uids || !gids) {
        spdlog::error("{}", !uids ? uids.error().message : gids.error().message);
        return kExitError;
      }
      options.granted_uids = *uids;
      options.granted_gids = *gids;
      auto observers = RunObservers::start(*config, {flags->trace, flags->trace_file, flags->record_io, flags->accel});
      if (!observers) {
        spdlog::error("{}", observers.error().message);
        return kExitError;
      }
      VmSession session(std::move(config).value(), options);
      int status = session.run();
      if (auto finished = (*observers)->finish(); !finished) {
        spdlog::error("{}", finished.error().message);
        if (status == kExitOk) status = kExitError;
      }
      return status;
    };
  });
}

}  // namespace kvpc
