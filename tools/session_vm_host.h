// SessionVmHost: the IVMGuestOS API's view of a `kvpc run` session (integration/api/vm_host.h).
//
// The API outlives any one boot of the VM (a guest reset builds a new Machine), so this object
// belongs to the session and forwards to whichever machine is current. SessionGuestServices
// does the same for the integration host services: with no machine (between boots) it answers
// "no agent", and it holds the time-sync setting so it survives reboots.
//
// It also turns what happens to the session into VM events: state changes, triple faults,
// guest power-off, the agent appearing or going quiet (watched by a 1 s timer on the loop).
//
// Concurrency: every member is safe from any thread (VmHost's contract). Machine references
// taken on worker threads are released on the event loop (Machine must die there).
#pragma once

#include <memory>

#include "integration/api/vm_api_state.h"
#include "integration/api/vm_host.h"
#include "tools/vm_session.h"

namespace kvpc {

class SessionGuestServices final : public GuestServices {
 public:
  explicit SessionGuestServices(VmSession& session) : session_(session) {}

  bool agent_present() const override;
  uint32_t agent_features() const override;
  bool channel_ready(uint16_t service_id) const override;
  HeartbeatStatus heartbeat() const override;
  std::map<std::string, std::string> os_info() const override;
  std::optional<std::vector<std::string>> sessions() const override;
  HRESULT begin_operation(GuestOperation operation, bool forced,
                          std::shared_ptr<GuestOperationObserver> observer) override;
  void abandon_operation(GuestOperation operation, HRESULT outcome) override;
  bool time_sync_enabled() const override;
  void set_time_sync_enabled(bool enabled) override;

 private:
  // Runs fn(services) on the current machine's host services, or returns fallback.
  template <typename T, typename Fn>
  T with_services(T fallback, Fn&& fn) const;

  VmSession& session_;
  std::atomic<bool> time_sync_enabled_{true};
};

class SessionVmHost final : public VmHost {
 public:
  explicit SessionVmHost(VmSession& session);

  // Wires the event sources (state listener, outcome listener, the watch timer). Call once
  // from the session extension, before run().
  void attach();

  std::string name() const override;
  bool known() const override { return true; }
  VMVMState state() const override;
  std::shared_ptr<GuestServices> guest_services() const override { return services_; }
  uint32_t owner_uid() const override;
  std::vector<uint32_t> granted_uids() const override;
  std::vector<uint32_t> granted_gids() const override;
  void audit(const std::string& line) override;
  void run_after(std::chrono::milliseconds delay, std::function<void()> callback) override;
  bool on_event_loop_thread() const override;
  std::shared_ptr<VmApiState> api_state() const override { return api_state_; }

 private:
  void watch_integration();

  VmSession& session_;
  std::shared_ptr<SessionGuestServices> services_;
  std::shared_ptr<VmApiState> api_state_;
  bool agent_was_present_ = false;  // loop thread only
  bool was_heartbeating_ = false;   // loop thread only
};

}  // namespace kvpc
