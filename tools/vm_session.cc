#include "tools/vm_session.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/access_acl.h"
#include "tools/runtime_folder_acl.h"
#include "tools/exit_status.h"
#include "tools/gdb_attach.h"
#include "tools/runtime_dir.h"
#include "vmm/kvm_system.h"
#include "vmm/thread_sandbox.h"

namespace kvpc {

namespace {

std::vector<VmSession::Extension>& extensions() {
  static std::vector<VmSession::Extension> list;
  return list;
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

const char* session_state_name(SessionState state) {
  switch (state) {
    case SessionState::kTurnedOff: return "TurnedOff";
    case SessionState::kTurningOn: return "TurningOn";
    case SessionState::kRunning: return "Running";
    case SessionState::kPaused: return "Paused";
    case SessionState::kTurningOff: return "TurningOff";
  }
  return "Invalid";
}

void VmSession::register_extension(Extension extension) { extensions().push_back(std::move(extension)); }

VmSession::VmSession(MachineConfig config, SessionOptions options)
    : config_(std::move(config)), options_(options) {}

VmSession::~VmSession() {
  loop_.stop();
  if (console_) console_->stop();
  if (server_) server_->close();
  release_folder_grants();
  if (signal_fd_ >= 0) close(signal_fd_);
}

void VmSession::release_folder_grants() {
  if (granted_dir_.empty()) return;
  // Our socket is gone: the folder keeps search only for users some other VM still grants.
  if (auto status = sync_runtime_folder_acl(granted_dir_); !status) {
    spdlog::warn("{}: the runtime folder keeps this VM's grants: {}", config_.name, status.error().message);
  }
  granted_dir_.clear();
}

std::shared_ptr<Machine> VmSession::machine() {
  std::lock_guard lock(mutex_);
  return machine_;
}

void VmSession::set_state(SessionState state) {
  if (state_.exchange(state) == state) return;
  for (auto& listener : state_listeners_) listener(state);
}

void VmSession::run_detached(std::function<void()> work) {
  {
    std::lock_guard lock(workers_mutex_);
    ++workers_running_;
  }
  std::thread([this, work = std::move(work)] {
    work();
    std::lock_guard lock(workers_mutex_);
    --workers_running_;
    workers_done_.notify_all();
  }).detach();
}

void VmSession::request_stop(const std::string& why) {
  stop_requested_.store(true);
  std::shared_ptr<Machine> current = machine();
  if (current) current->stop({MachineOutcome::Kind::kStopped, 0, why});
}

Status VmSession::setup() {
  if (auto valid = validate_vm_name(config_.name); !valid) return valid;
  // Stop signals are taken by the event loop through a signalfd; block them in every
  // thread (threads inherit this mask) so none is delivered elsewhere.
  sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (auto status = loop_.init(); !status) return status;
  signal_fd_ = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) return make_error(fmt::format("signalfd failed: {}", strerror(errno)));
  auto added = loop_.add_fd(signal_fd_, EPOLLIN, [this](uint32_t) {
    signalfd_siginfo info{};
    while (read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      request_stop(fmt::format("stopped by signal {}", strsignal(static_cast<int>(info.ssi_signo))));
    }
  });
  if (!added) return added;

  auto dir = ensure_runtime_dir();
  if (!dir) return dir.error();
  server_ = std::make_unique<ControlServer>(loop_);
  if (auto status = server_->listen(socket_path_for(*dir, config_.name)); !status) return status;
  if (!options_.granted_uids.empty() || !options_.granted_gids.empty()) {
    // Granted users, and only they, must be able to reach the socket: POSIX ACLs give them
    // search on the folder and read/write on the socket; "other" keeps no access at all
    // (tools/access_acl.h, docs/security.md). Every request is still checked against the
    // caller's peer credentials, and refused callers get access_denied and an audit line.
    // The socket first: the folder's grants are recomputed from the sockets in it.
    const AclGrant connect{options_.granted_uids, options_.granted_gids, 6};
    if (auto status = set_access_acl(socket_path_for(*dir, config_.name), 6, connect); !status) return status;
    granted_dir_ = *dir;
    if (auto status = sync_runtime_folder_acl(*dir); !status) return status;
  }
  register_builtin_handlers();
  for (auto& extension : extensions()) extension(*this);
  if (!options_.gdb.empty()) {
    auto stub = gdb::GdbStub::listen(options_.gdb, options_.gdb_wait);
    if (!stub) return stub.error();
    gdb_ = std::move(stub).value();
    if (!options_.quiet) {
      spdlog::info("gdb stub listening on {}:{}{}", gdb_->host(), gdb_->port(),
                   options_.gdb_wait ? " (the guest waits for gdb)" : "");
    }
  }
  if (options_.seccomp) {
    if (auto status = prepare_thread_sandbox(kExitSandboxViolation); !status) return status;
  }
  loop_.start_thread();
  return ok_status();
}

void VmSession::register_builtin_handlers() {
  server_->add_handler("status", [this](const ControlServer::Request& request, ControlServer::Reply reply) {
    auto current = machine();
    nlohmann::json result = {
        {"vm", config_.name},
        {"state", session_state_name(state())},
        {"state_code", static_cast<int>(state())},
        {"pid", getpid()},
        {"uid", getuid()},
        {"cpus", config_.cpus},
        {"memory_bytes", config_.ram_bytes},
        {"accelerator", current ? std::string(current->accelerator()) : std::string()},
        {"boots", boot_count()},
    };
    // Exit counters of the current boot, summed over vCPUs (ExitStats: always on, relaxed reads).
    if (current) {
      uint64_t io = 0, mmio = 0, total = 0, pio_accesses = 0, mmio_accesses = 0;
      for (const auto& runner : current->vcpus()) {
        const ExitStats& stats = runner->stats();
        for (const auto& counter : stats.by_reason) total += counter.get();
        io += stats.by_reason[KVM_EXIT_IO].get();
        mmio += stats.by_reason[KVM_EXIT_MMIO].get();
        pio_accesses += stats.pio_reads.get() + stats.pio_writes.get();
        mmio_accesses += stats.mmio_reads.get() + stats.mmio_writes.get();
      }
      result["exits"] = {{"total", total}, {"io", io}, {"mmio", mmio}, {"pio_accesses", pio_accesses},
                         {"mmio_accesses", mmio_accesses}};
    }
    reply(ControlServer::ok(request.id, result));
  });
  server_->add_handler("stop", [this](const ControlServer::Request& request, ControlServer::Reply reply) {
    if (request.peer.uid != getuid() && request.peer.uid != 0) {
      spdlog::warn("audit: uid {} (pid {}) was refused 'stop' on VM {}", request.peer.uid, request.peer.pid,
                   config_.name);
      reply(ControlServer::error(request.id, "access_denied", "only the VM's owner or root may stop it"));
      return;
    }
    request_stop(fmt::format("stopped by kvpc stop (uid {})", request.peer.uid));
    reply(ControlServer::ok(request.id, {{"vm", config_.name}, {"state", "TurningOff"}}));
  });
  auto pause_or_resume = [this](bool pause) {
    return [this, pause](const ControlServer::Request& request, ControlServer::Reply reply) {
      if (request.peer.uid != getuid() && request.peer.uid != 0) {
        spdlog::warn("audit: uid {} (pid {}) was refused '{}' on VM {}", request.peer.uid, request.peer.pid,
                     pause ? "pause" : "resume", config_.name);
        reply(ControlServer::error(request.id, "access_denied", "only the VM's owner or root may do this"));
        return;
      }
      auto current = machine();
      if (!current || current->finished() || state() == SessionState::kTurningOff) {
        reply(ControlServer::error(request.id, "not_running", "the VM is not running"));
        return;
      }
      if (pause) {
        if (!current->pause()) {
          reply(ControlServer::error(request.id, "not_running", "the VM stopped while pausing"));
          return;
        }
        set_state(SessionState::kPaused);
      } else {
        current->resume();
        set_state(SessionState::kRunning);
      }
      reply(ControlServer::ok(request.id, {{"vm", config_.name}, {"state", session_state_name(state())}}));
    };
  };
  server_->add_handler("pause", pause_or_resume(true));
  server_->add_handler("resume", pause_or_resume(false));
}

int VmSession::exit_status_for(const MachineOutcome& outcome) {
  using Kind = MachineOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kPoweredOff:
    case Kind::kStopped:
    case Kind::kHalted:
      if (!options_.quiet) spdlog::info("{}", outcome.message);
      return kExitOk;
    case Kind::kDebugExit:
      return outcome.exit_status;
    case Kind::kTripleFault:
      spdlog::error("{}", outcome.message);
      return kExitTripleFault;
    case Kind::kGuestError:
      spdlog::error("{}", outcome.message);
      return kExitGuestError;
    case Kind::kHostError:
    case Kind::kReset:
      spdlog::error("{}", outcome.message);
      return kExitError;
  }
  return kExitError;
}

int VmSession::run() {
  if (auto status = setup(); !status) {
    spdlog::error("{}", status.error().message);
    return kExitError;
  }
  int exit_status = kExitOk;
  while (true) {
    set_state(SessionState::kTurningOn);
    MachineHooks hooks;
    hooks.debug = gdb_.get();
    auto created = Machine::create(config_, loop_, hooks);
    if (!created) {
      spdlog::error("{}", created.error().message);
      exit_status = is_kvm_unavailable_error(created.error()) ? kExitKvmUnavailable : kExitError;
      break;
    }
    std::shared_ptr<Machine> current(std::move(created).value());
    {
      std::lock_guard lock(mutex_);
      machine_ = current;
    }
    boots_.fetch_add(1);
    if (config_.serial == "stdio") {
      auto sink = [current](std::span<const uint8_t> bytes) { return current->board().serial_input(bytes); };
      auto space = [current] { return current->board().com1().rx_space(); };
      if (!console_) {
        console_ = std::make_unique<ConsoleInput>(loop_, sink, space, [this] { request_stop("stopped with Ctrl-A x"); });
        if (auto status = console_->start(STDIN_FILENO); !status) spdlog::warn("{}", status.error().message);
      } else {
        console_->retarget(sink, space);
      }
    }
    if (stop_requested_.load()) break;
    set_state(SessionState::kRunning);
    if (gdb_) gdb_->attach(debug_target_for(*current));
    current->start();
    MachineOutcome outcome = current->wait();
    if (gdb_) {
      const bool rebooting = outcome.kind == MachineOutcome::Kind::kReset && !stop_requested_.load();
      gdb_->detach(rebooting ? std::nullopt : std::optional<MachineOutcome>(outcome));
    }
    set_state(SessionState::kTurningOff);
    for (auto& listener : outcome_listeners_) listener(outcome);
    if (outcome.kind == MachineOutcome::Kind::kReset && !stop_requested_.load()) {
      if (!options_.quiet) spdlog::info("{}: rebooting", outcome.message);
      {
        std::lock_guard lock(mutex_);
        machine_.reset();
      }
      // The old machine's host services may still have a callback queued on the loop:
      // let the loop thread itself drop the last reference.
      loop_.post([dead = std::move(current)]() mutable { dead.reset(); });
      continue;
    }
    exit_status = exit_status_for(outcome);
    break;
  }
  set_state(SessionState::kTurnedOff);
  // Requests still waiting for the guest end now (the machine stopped): let them answer.
  {
    std::unique_lock lock(workers_mutex_);
    workers_done_.wait_for(lock, std::chrono::seconds(10), [this] { return workers_running_ == 0; });
  }
  // The loop thread owns the server's and the console's state: stop it first, then tear
  // them down here with no thread left to race.
  loop_.stop();
  if (console_) console_->stop();
  if (server_) server_->close();
  release_folder_grants();
  {
    std::lock_guard lock(mutex_);
    machine_.reset();
  }
  return exit_status;
}

}  // namespace kvpc
