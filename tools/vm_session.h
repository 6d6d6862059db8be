// VmSession: one `kvpc run` — the named VM as the outside world sees it.
//
// Owns what outlives a guest reset: the event loop, the control socket, console input,
// signal handling and the VM's name and state. Each boot (the first, and one per guest
// reset) is a fresh Machine built from the same config.
//
// Threads: the main thread builds and waits on machines; the event loop thread runs the
// control socket handlers, console input and signal handling. `machine_` is swapped by the
// main thread under `mutex_`; handlers take a shared_ptr copy under the same mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tools/console_input.h"
#include "tools/control_server.h"
#include "vmm/event_loop.h"
#include "vmm/machine/machine.h"

namespace kvpc {

namespace gdb {
class GdbStub;
}

// VMVMState values (Virtual PC's numbering) for the states a kvpc VM passes through.
enum class SessionState { kTurnedOff = 1, kTurningOn = 3, kRunning = 5, kPaused = 6, kTurningOff = 8 };
const char* session_state_name(SessionState state);

struct SessionOptions {
  bool quiet = false;  // no "kvpc: ..." status lines on stderr
  bool seccomp = true;  // filter vCPU and event-loop threads (vmm/thread_sandbox.h); --seccomp off
  // Besides the owner and root, who may call the VM's integration API (--allow-user/--allow-group).
  std::vector<uint32_t> granted_uids;
  std::vector<uint32_t> granted_gids;
  // gdb stub (--gdb tcp:HOST:PORT): empty = none; gdb_wait holds the first boot for gdb.
  std::string gdb;
  bool gdb_wait = false;
};

class VmSession {
 public:
  VmSession(MachineConfig config, SessionOptions options);
  ~VmSession();

  // Runs the VM until it ends; returns kvpc's exit status (tools/exit_status.h).
  int run();

  // For control handlers (event loop thread).
  std::shared_ptr<Machine> machine();
  SessionState state() const { return state_.load(); }
  const MachineConfig& config() const { return config_; }
  EventLoop& loop() { return loop_; }
  ControlServer& server() { return *server_; }
  void request_stop(const std::string& why);
  uint64_t boot_count() const { return boots_.load(); }
  const SessionOptions& options() const { return options_; }
  // Called (on the changing thread) after every state change; register before run().
  void on_state_change(std::function<void(SessionState)> listener) { state_listeners_.push_back(std::move(listener)); }
  // Called with the outcome of every boot as it ends (main thread).
  void on_machine_outcome(std::function<void(const MachineOutcome&)> listener) {
    outcome_listeners_.push_back(std::move(listener));
  }
  // Runs `work` on a thread of its own (control requests that must wait for the guest may not
  // block the event loop); run() waits for all of them before it returns.
  void run_detached(std::function<void()> work);

  // Extra control-socket methods (integration verbs) register through this hook, which
  // run() calls after the built-in ones. Each gets the session.
  using Extension = std::function<void(VmSession&)>;
  static void register_extension(Extension extension);

 private:
  Status setup();
  void register_builtin_handlers();
  int exit_status_for(const MachineOutcome& outcome);
  void set_state(SessionState state);

  MachineConfig config_;
  SessionOptions options_;
  EventLoop loop_;
  std::unique_ptr<ControlServer> server_;
  // The runtime folder whose ACL this VM's --allow-user/--allow-group grants are in, until the
  // socket is gone and the folder's ACL recomputed (tools/runtime_folder_acl.h); else empty.
  std::string granted_dir_;
  void release_folder_grants();
  std::unique_ptr<ConsoleInput> console_;
  std::unique_ptr<gdb::GdbStub> gdb_;  // --gdb; outlives every boot's Machine
  int signal_fd_ = -1;
  std::mutex mutex_;
  std::shared_ptr<Machine> machine_;
  std::atomic<SessionState> state_{SessionState::kTurningOn};
  std::atomic<bool> stop_requested_{false};
  std::atomic<uint64_t> boots_{0};
  std::string stop_reason_;
  std::vector<std::function<void(SessionState)>> state_listeners_;
  std::vector<std::function<void(const MachineOutcome&)>> outcome_listeners_;
  std::mutex workers_mutex_;
  std::condition_variable workers_done_;
  int workers_running_ = 0;
};

}  // namespace kvpc
