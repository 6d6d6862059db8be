// VmHost: everything the API needs from the machine that runs one VM, and nothing more. The
// machine (vmm/machine) implements it; the API tests implement it with a GMock fake.
//
// Concurrency contract: every member must be safe from any thread; the API calls them from the
// caller's thread (the control socket's worker, a test) and from the event-loop thread (timer
// callbacks, task completions).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "integration/api/vm_api_state.h"
#include "integration/api/vm_types.h"
#include "integration/guest_services.h"

namespace kvpc {

// Who is calling: the peer credentials of the control-socket connection (SO_PEERCRED plus the
// peer's supplementary groups), fixed when the caller obtains its VMVirtualMachine.
struct CallerIdentity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> supplementary_gids;
};

class VmHost {
 public:
  virtual ~VmHost() = default;

  virtual std::string name() const = 0;
  // False once the VM (its configuration) no longer exists: every member then answers
  // VM_E_VM_UNKNOWN.
  virtual bool known() const = 0;
  virtual VMVMState state() const = 0;

  // The host side of the integration components. Never null while known(), whatever the
  // state (the time-sync setting lives there while the VM is off).
  virtual std::shared_ptr<GuestServices> guest_services() const = 0;

  // Access control ("Who may call" in CONTRACT.md): the owner and root may call; so may the
  // users and groups the owner granted. Read on every call, so grants apply at once.
  virtual uint32_t owner_uid() const = 0;
  virtual std::vector<uint32_t> granted_uids() const = 0;
  virtual std::vector<uint32_t> granted_gids() const = 0;
  // Writes one line to the VM's audit log (a refused caller, for now).
  virtual void audit(const std::string& line) = 0;

  // Runs `callback` once, `delay` from now, on the VM's event-loop thread (EventLoop::add_timer
  // with repeat = false). Used for task deadlines; the callback is harmless if the task ended.
  virtual void run_after(std::chrono::milliseconds delay, std::function<void()> callback) = 0;
  // True on the event-loop thread: Logoff/Shutdown/Restart wait for the guest's acknowledgment,
  // which only the event loop can deliver, so they refuse to run there (DISP_E_EXCEPTION).
  virtual bool on_event_loop_thread() const = 0;

  // The per-VM API state; the same object for the VM's whole life.
  virtual std::shared_ptr<VmApiState> api_state() const = 0;
};

}  // namespace kvpc
