// VMVirtualMachine: the part of Virtual PC's IVMVirtualMachine that leads to the guest
// integration API (Name, GuestOS, State) plus event subscription, for one caller. A caller
// (a control-socket connection, a test) obtains one with open(host, its identity); every member
// then checks that identity against the VM's owner and grants ("Who may call", CONTRACT.md).
//
// Event subscription stands in for COM connection points (Advise/Unadvise): Subscribe(sink)
// delivers the VM's IVMVirtualMachineEvents to `sink` until Unsubscribe(sink) or until this
// object is destroyed, and only while the caller still has access.
//
// Concurrency contract: every member is safe from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "integration/api/vm_events.h"
#include "integration/api/vm_guest_os.h"
#include "integration/api/vm_host.h"
#include "integration/api/vm_types.h"
#include "integration/hresult.h"

namespace kvpc {

class VMVirtualMachine final {
 public:
  // E_POINTER when `out` is NULL, E_INVALIDARG when `host` is null. Opening checks nothing
  // else: access is checked by each member, so a grant revoked later takes effect at once.
  static HRESULT open(std::shared_ptr<VmHost> host, CallerIdentity caller,
                      std::shared_ptr<VMVirtualMachine>* out);

  ~VMVirtualMachine();
  VMVirtualMachine(const VMVirtualMachine&) = delete;
  VMVirtualMachine& operator=(const VMVirtualMachine&) = delete;

  // In the SDK's vtable order.
  HRESULT get_Name(std::string* virtualMachineName);
  HRESULT get_GuestOS(std::shared_ptr<IVMGuestOS>* guestOS);
  HRESULT get_State(VMVMState* virtualMachineState);

  // S_OK; S_FALSE when `sink` was already subscribed through this object.
  HRESULT Subscribe(std::shared_ptr<IVMVirtualMachineEvents> sink);
  // S_OK; S_FALSE when `sink` was not subscribed through this object.
  HRESULT Unsubscribe(const std::shared_ptr<IVMVirtualMachineEvents>& sink);

 private:
  VMVirtualMachine(std::shared_ptr<VmHost> host, CallerIdentity caller);
  HRESULT admit(std::string_view member);

  const std::shared_ptr<VmHost> host_;
  const CallerIdentity caller_;

  std::mutex mutex_;  // guards guest_os_, subscriptions_
  std::shared_ptr<IVMGuestOS> guest_os_;
  std::map<IVMVirtualMachineEvents*, VmEventHub::SubscriptionId> subscriptions_;
};

}  // namespace kvpc
