// IVMVirtualMachineEvents: Virtual PC's per-VM event interface (the subset kvpc raises), in
// the SDK's dispatch-id order. A sink overrides the events it cares about; the others answer
// S_OK. Subscribe through VMVirtualMachine::Subscribe.
//
// Concurrency contract: events are raised on the VM's event-loop thread (or, for events the
// API raises itself, on the thread that finished the operation), one at a time per raise, with
// no kvpc lock held: a sink may call back into the API, but must not block (never call Logoff,
// Shutdown or Restart from a sink: they wait for the event loop).
#pragma once

#include "integration/api/vm_types.h"
#include "integration/hresult.h"

namespace kvpc {

class IVMVirtualMachineEvents {
 public:
  virtual ~IVMVirtualMachineEvents() = default;

  virtual HRESULT OnStateChange(VMVMState /*virtualMachineState*/) { return S_OK; }
  virtual HRESULT OnTripleFault() { return S_OK; }
  virtual HRESULT OnHeartbeatStopped() { return S_OK; }
  virtual HRESULT OnAdditionsUninstalled() { return S_OK; }
  virtual HRESULT OnAdditionsAvailable() { return S_OK; }
  virtual HRESULT OnGuestShutdown() { return S_OK; }
  // vmLogoff_External when a Logoff started through IVMGuestOS::Logoff succeeded.
  virtual HRESULT OnGuestLogoff(VMLogoffType /*logoffType*/) { return S_OK; }
};

}  // namespace kvpc
