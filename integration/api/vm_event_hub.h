// VmEventHub: one per VM; fans each IVMVirtualMachineEvents call out to every subscribed sink.
// The machine raises VM events by calling the hub's members (it *is* an
// IVMVirtualMachineEvents); the API raises OnGuestLogoff(vmLogoff_External) through it too.
//
// Each subscription carries a `still_allowed` check, evaluated at every delivery, so a caller
// whose access was revoked after subscribing stops receiving events.
//
// Concurrency contract: all members are safe from any thread. Delivery copies the subscriber
// list under the lock and calls the sinks with no lock held, so a sink may subscribe or
// unsubscribe from inside an event; a sink removed concurrently may still get the event that
// was being delivered at that moment.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "integration/api/vm_events.h"

namespace kvpc {

class VmEventHub final : public IVMVirtualMachineEvents {
 public:
  using SubscriptionId = uint64_t;

  SubscriptionId subscribe(std::shared_ptr<IVMVirtualMachineEvents> sink,
                           std::function<bool()> still_allowed);
  // Returns false when `id` was not subscribed (already removed).
  bool unsubscribe(SubscriptionId id);
  size_t subscriber_count() const;

  HRESULT OnStateChange(VMVMState virtualMachineState) override;
  HRESULT OnTripleFault() override;
  HRESULT OnHeartbeatStopped() override;
  HRESULT OnAdditionsUninstalled() override;
  HRESULT OnAdditionsAvailable() override;
  HRESULT OnGuestShutdown() override;
  HRESULT OnGuestLogoff(VMLogoffType logoffType) override;

 private:
  struct Subscription {
    std::shared_ptr<IVMVirtualMachineEvents> sink;
    std::function<bool()> still_allowed;
  };
  // Calls `deliver` on every allowed sink; sink return values are ignored (as COM does).
  HRESULT raise(const std::function<void(IVMVirtualMachineEvents&)>& deliver);

  mutable std::mutex mutex_;  // guards subscriptions_, next_id_
  std::map<SubscriptionId, Subscription> subscriptions_;
  SubscriptionId next_id_ = 1;
};

}  // namespace kvpc
