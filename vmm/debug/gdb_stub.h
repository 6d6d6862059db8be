// GdbStub: `kvpc run --gdb tcp:HOST:PORT [--gdb-wait]` — a GDB remote serial protocol server
// for the guest, independent of the accelerator (KVM or emu): it drives vCPUs only through
// VcpuBackend's debugger access (KVM_GET/SET_REGS, KVM_GET/SET_SREGS, KVM_SET_GUEST_DEBUG,
// KVM_EXIT_DEBUG) and reads guest memory by walking the guest's page tables itself.
//
// What gdb sees: one process whose threads are the vCPUs (thread id = vCPU index + 1), an
// i386:x86-64 target description with general, segment and control registers, software
// breakpoints (int3 patched into guest memory, intercepted with KVM_GUESTDBG_USE_SW_BP),
// hardware breakpoints and watchpoints in DR0-DR3, single-step, Ctrl-C, and the guest's end
// as a W (exit status) or X (signal) stop reply. All-stop: when any vCPU stops, all do.
//
// Threads and the concurrency contract:
//  - the stub's own thread accepts one connection at a time and handles every packet;
//  - vCPU threads enter the stub through VcpuDebugHook and block in gate() while gdb has
//    them stopped. The stub touches a vCPU's registers, debug state and guest memory only
//    while every vCPU of the target is parked in gate() (or not started yet), under mutex_,
//    so a vCPU never runs while the stub changes it;
//  - attach()/detach() run on the session's main thread, around each boot's lifetime;
//    detach() takes mutex_, so the stub never touches a machine that is being destroyed.
// Mixing `kvpc pause` with a connected gdb is not supported (both park vCPUs).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "vmm/debug/guest_page_walker.h"
#include "vmm/debug/vcpu_debug_hook.h"
#include "vmm/debug/x86_64_registers.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"
#include "vmm/run_control.h"
#include "vmm/unique_fd.h"

namespace kvpc::gdb {

// What the stub needs of one booted machine.
struct DebugTarget {
  std::vector<VcpuBackend*> vcpus;
  GuestMemory* memory = nullptr;
  std::function<bool()> finished;          // the machine has an outcome (its vCPUs are leaving)
  std::function<void(std::string)> kill;   // gdb's `kill`: end the machine
};

// The stop reply gdb gets when the machine ends with `outcome`: W<status> or X<signal>.
std::string exit_reply_for(const MachineOutcome& outcome);

class GdbStub final : public VcpuDebugHook {
 public:
  // Listens on "tcp:HOST:PORT" (HOST: an IPv4 address or localhost; PORT 0 picks a free one)
  // and starts the stub thread. With wait_for_attach the first boot's vCPUs stay before their
  // first instruction until gdb resumes them.
  static Result<std::unique_ptr<GdbStub>> listen(std::string_view address, bool wait_for_attach);
  ~GdbStub() override;
  GdbStub(const GdbStub&) = delete;
  GdbStub& operator=(const GdbStub&) = delete;

  uint16_t port() const { return port_; }
  const std::string& host() const { return host_; }

  // Main thread: a new boot's machine, before its vCPUs start (breakpoints are re-applied).
  void attach(DebugTarget target);
  // Main thread: the boot ended. `final_outcome` is set when the VM is done (not a reboot);
  // a connected gdb then gets W/X. Waits briefly for that reply to go out.
  void detach(const std::optional<MachineOutcome>& final_outcome);

  // VcpuDebugHook (vCPU threads).
  void vcpu_starting(VcpuBackend& vcpu) override;
  void vcpu_interrupted(VcpuBackend& vcpu) override;
  void vcpu_debug_exit(VcpuBackend& vcpu) override;

 private:
  struct StopEvent {
    uint32_t vcpu = 0;
    int signal = 5;      // SIGTRAP
    std::string reason;  // "swbreak:;", "watch:ADDR;", ... (empty for a step)
  };
  struct Slot {
    bool run_allowed = true;
    bool parked = false;
  };
  struct SoftwareBreakpoint {
    uint64_t address = 0;  // guest-virtual, as gdb gave it
    uint64_t gpa = 0;
    uint8_t original = 0;
    bool inserted = false;
  };
  struct DebugRegisterSlot {
    bool used = false;
    char type = '1';          // gdb's Z type: '1' execute, '2' write, '3' read, '4' access
    uint64_t address = 0;     // what DRn holds (aligned to len)
    uint64_t len = 1;
    uint64_t gdb_address = 0; // the start of the range gdb asked for (reported on a hit)
    uint64_t gdb_len = 0;
  };
  enum class Resume { kStay, kContinue, kStep };

  GdbStub(UniqueFd listener, std::string host, uint16_t port, bool wait_for_attach);

  // --- stub thread
  void thread_main();
  void serve(int fd);
  void send_raw(std::string_view bytes);
  void send_packet(std::string_view payload);
  std::optional<std::string> handle(std::string_view packet);  // nullopt: no reply
  std::string handle_query(std::string_view packet);
  std::optional<std::string> handle_vcont(std::string_view actions);
  std::string handle_breakpoint(bool insert, std::string_view args);
  std::string read_memory(std::string_view args);
  std::string write_memory(std::string_view args);
  std::optional<std::string> resume(std::vector<Resume> actions);
  void check_for_stop();
  void interrupt();
  void detach_gdb();

  // --- helpers; *_locked need mutex_ held
  bool stop_all_locked(std::unique_lock<std::mutex>& lock);
  bool target_alive_locked() const;
  uint32_t vcpu_count_locked() const;
  std::optional<uint32_t> parse_thread_locked(std::string_view text, bool allow_all) const;
  uint32_t selected_vcpu_locked() const;
  Result<X86State> read_state_locked(uint32_t vcpu);
  Status write_state_locked(uint32_t vcpu, const X86State& state);
  Result<PagingRegs> paging_locked(uint32_t vcpu);
  Status apply_debug_locked(uint32_t vcpu, bool step);
  Status insert_software_locked(SoftwareBreakpoint& bp);
  void remove_software_locked(SoftwareBreakpoint& bp);
  std::string stop_reply_locked(const StopEvent& event) const;
  StopEvent event_from_debug_exit_locked(uint32_t vcpu, const kvm_debug_exit_arch& arch) const;

  // --- vCPU threads
  void gate(uint32_t vcpu, std::optional<StopEvent> event);

  UniqueFd listener_;
  std::string host_;
  uint16_t port_;
  bool wait_for_attach_;
  std::thread thread_;
  std::atomic<bool> shutdown_{false};
  int conn_ = -1;  // stub thread only
  bool ack_mode_ = true;
  std::string last_sent_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<DebugTarget> target_;
  bool attached_before_ = false;
  std::vector<Slot> slots_;
  std::optional<StopEvent> pending_event_;
  bool gdb_connected_ = false;
  bool gdb_running_ = false;    // gdb believes the target runs (waits for a stop reply)
  std::optional<std::string> exit_reply_;  // the VM ended: W/X, sent once
  bool exit_sent_ = false;
  std::string last_stop_reply_ = "S05";
  uint32_t g_thread_ = 0;  // vCPU for g/G/p/P/m/M (Hg)
  std::optional<uint32_t> c_thread_;  // vCPU for c/s (Hc); nullopt = any
  std::vector<SoftwareBreakpoint> software_;
  DebugRegisterSlot debug_regs_[4];
};

}  // namespace kvpc::gdb
