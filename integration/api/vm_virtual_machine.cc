#include "integration/api/vm_virtual_machine.h"

#include <utility>

#include "integration/api/caller_access.h"

namespace kvpc {

HRESULT VMVirtualMachine::open(std::shared_ptr<VmHost> host, CallerIdentity caller,
                               std::shared_ptr<VMVirtualMachine>* out) {
  if (!out) return E_POINTER;
  out->reset();
  if (!host) return E_INVALIDARG;
  out->reset(new VMVirtualMachine(std::move(host), std::move(caller)));
  return S_OK;
}

VMVirtualMachine::VMVirtualMachine(std::shared_ptr<VmHost> host, CallerIdentity caller)
    : host_(std::move(host)), caller_(std::move(caller)) {}

VMVirtualMachine::~VMVirtualMachine() {
  const auto state = host_->api_state();
  if (!state) return;
  for (const auto& [sink, id] : subscriptions_) state->events().unsubscribe(id);
}

HRESULT VMVirtualMachine::admit(std::string_view member) {
  if (const HRESULT access = check_caller_access(*host_, caller_, member); failed(access)) {
    return access;
  }
  return host_->known() ? S_OK : VM_E_VM_UNKNOWN;
}

HRESULT VMVirtualMachine::get_Name(std::string* virtualMachineName) {
  if (!virtualMachineName) return E_POINTER;
  if (const HRESULT admitted = admit("IVMVirtualMachine::get_Name"); failed(admitted)) return admitted;
  *virtualMachineName = host_->name();
  return S_OK;
}

HRESULT VMVirtualMachine::get_GuestOS(std::shared_ptr<IVMGuestOS>* guestOS) {
  if (!guestOS) return E_POINTER;
  guestOS->reset();
  if (const HRESULT admitted = admit("IVMVirtualMachine::get_GuestOS"); failed(admitted)) {
    return admitted;
  }
  std::lock_guard lock(mutex_);
  if (!guest_os_) guest_os_ = std::make_shared<VMGuestOS>(host_, caller_);
  *guestOS = guest_os_;
  return S_OK;
}

HRESULT VMVirtualMachine::get_State(VMVMState* virtualMachineState) {
  if (!virtualMachineState) return E_POINTER;
  if (const HRESULT admitted = admit("IVMVirtualMachine::get_State"); failed(admitted)) {
    return admitted;
  }
  *virtualMachineState = host_->state();
  return S_OK;
}

HRESULT VMVirtualMachine::Subscribe(std::shared_ptr<IVMVirtualMachineEvents> sink) {
  if (!sink) return E_POINTER;
  if (const HRESULT admitted = admit("IVMVirtualMachine::Subscribe"); failed(admitted)) {
    return admitted;
  }
  const auto state = host_->api_state();
  if (!state) return DISP_E_EXCEPTION;
  std::lock_guard lock(mutex_);
  if (subscriptions_.count(sink.get()) > 0) return S_FALSE;
  IVMVirtualMachineEvents* key = sink.get();
  // Re-checked at each delivery, quietly: a refused delivery is not a call, so no audit line.
  auto still_allowed = [weak_host = std::weak_ptr<VmHost>(host_), caller = caller_] {
    const auto host = weak_host.lock();
    return host && caller_may_use(*host, caller);
  };
  subscriptions_[key] = state->events().subscribe(std::move(sink), std::move(still_allowed));
  return S_OK;
}

HRESULT VMVirtualMachine::Unsubscribe(const std::shared_ptr<IVMVirtualMachineEvents>& sink) {
  if (!sink) return E_POINTER;
  if (const HRESULT admitted = admit("IVMVirtualMachine::Unsubscribe"); failed(admitted)) {
    return admitted;
  }
  const auto state = host_->api_state();
  if (!state) return DISP_E_EXCEPTION;
  std::lock_guard lock(mutex_);
  const auto it = subscriptions_.find(sink.get());
  if (it == subscriptions_.end()) return S_FALSE;
  state->events().unsubscribe(it->second);
  subscriptions_.erase(it);
  return S_OK;
}

}  // namespace kvpc
