#include "integration/api/vm_event_hub.h"

#include <utility>
#include <vector>

namespace kvpc {

VmEventHub::SubscriptionId VmEventHub::subscribe(std::shared_ptr<IVMVirtualMachineEvents> sink,
                                                 std::function<bool()> still_allowed) {
  std::lock_guard lock(mutex_);
  const SubscriptionId id = next_id_++;
  subscriptions_.emplace(id, Subscription{std::move(sink), std::move(still_allowed)});
  return id;
}

bool VmEventHub::unsubscribe(SubscriptionId id) {
  std::lock_guard lock(mutex_);
  return subscriptions_.erase(id) > 0;
}

size_t VmEventHub::subscriber_count() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

HRESULT VmEventHub::raise(const std::function<void(IVMVirtualMachineEvents&)>& deliver) {
  std::vector<Subscription> targets;
  {
    std::lock_guard lock(mutex_);
    targets.reserve(subscriptions_.size());
    for (const auto& [id, subscription] : subscriptions_) targets.push_back(subscription);
  }
  for (const auto& target : targets) {
    if (target.sink && (!target.still_allowed || target.still_allowed())) deliver(*target.sink);
  }
  return S_OK;
}

HRESULT VmEventHub::OnStateChange(VMVMState virtualMachineState) {
  return raise([=](IVMVirtualMachineEvents& sink) { sink.OnStateChange(virtualMachineState); });
}

HRESULT VmEventHub::OnTripleFault() {
  return raise([](IVMVirtualMachineEvents& sink) { sink.OnTripleFault(); });
}

HRESULT VmEventHub::OnHeartbeatStopped() {
  return raise([](IVMVirtualMachineEvents& sink) { sink.OnHeartbeatStopped(); });
}

HRESULT VmEventHub::OnAdditionsUninstalled() {
  return raise([](IVMVirtualMachineEvents& sink) { sink.OnAdditionsUninstalled(); });
}

HRESULT VmEventHub::OnAdditionsAvailable() {
  return raise([](IVMVirtualMachineEvents& sink) { sink.OnAdditionsAvailable(); });
}

HRESULT VmEventHub::OnGuestShutdown() {
  return raise([](IVMVirtualMachineEvents& sink) { sink.OnGuestShutdown(); });
}

HRESULT VmEventHub::OnGuestLogoff(VMLogoffType logoffType) {
  return raise([=](IVMVirtualMachineEvents& sink) { sink.OnGuestLogoff(logoffType); });
}

}  // namespace kvpc
