#include "tools/session_vm_host.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

namespace kvpc {

template <typename T, typename Fn>
T SessionGuestServices::with_services(T fallback, Fn&& fn) const {
  std::shared_ptr<Machine> machine = session_.machine();
  if (!machine) return fallback;
  T result = fn(machine->board().services());
  // The last reference to a machine must be dropped on the event loop (HostServices' rule).
  session_.loop().post([dead = std::move(machine)]() mutable { dead.reset(); });
  return result;
}

bool SessionGuestServices::agent_present() const {
  return with_services(false, [](HostServices& s) { return s.agent_present(); });
}
uint32_t SessionGuestServices::agent_features() const {
  return with_services(uint32_t{0}, [](HostServices& s) { return s.agent_features(); });
}
bool SessionGuestServices::channel_ready(uint16_t service_id) const {
  return with_services(false, [service_id](HostServices& s) { return s.channel_ready(service_id); });
}
HeartbeatStatus SessionGuestServices::heartbeat() const {
  return with_services(HeartbeatStatus{}, [](HostServices& s) { return s.heartbeat(); });
}
std::map<std::string, std::string> SessionGuestServices::os_info() const {
  return with_services(std::map<std::string, std::string>{}, [](HostServices& s) { return s.os_info(); });
}
std::optional<std::vector<std::string>> SessionGuestServices::sessions() const {
  return with_services(std::optional<std::vector<std::string>>{}, [](HostServices& s) { return s.sessions(); });
}
HRESULT SessionGuestServices::begin_operation(GuestOperation operation, bool forced,
                                              std::shared_ptr<GuestOperationObserver> observer) {
  return with_services(DISP_E_EXCEPTION, [&](HostServices& s) { return s.begin_operation(operation, forced, observer); });
}
void SessionGuestServices::abandon_operation(GuestOperation operation, HRESULT outcome) {
  with_services(0, [&](HostServices& s) {
    s.abandon_operation(operation, outcome);
    return 0;
  });
}
bool SessionGuestServices::time_sync_enabled() const { return time_sync_enabled_.load(); }
void SessionGuestServices::set_time_sync_enabled(bool enabled) {
  time_sync_enabled_.store(enabled);
  with_services(0, [enabled](HostServices& s) {
    s.set_time_sync_enabled(enabled);
    return 0;
  });
}

SessionVmHost::SessionVmHost(VmSession& session)
    : session_(session),
      services_(std::make_shared<SessionGuestServices>(session)),
      api_state_(std::make_shared<VmApiState>()) {}

namespace {

VMVMState to_vm_state(SessionState state) {
  switch (state) {
    case SessionState::kTurnedOff: return vmVMState_TurnedOff;
    case SessionState::kTurningOn: return vmVMState_TurningOn;
    case SessionState::kRunning: return vmVMState_Running;
    case SessionState::kPaused: return vmVMState_Paused;
    case SessionState::kTurningOff: return vmVMState_TurningOff;
  }
  return vmVMState_Invalid;
}

}  // namespace

void SessionVmHost::attach() {
  session_.on_state_change([this](SessionState state) {
    // A new boot's host services start with the default time-sync setting: carry the VM's over.
    if (state == SessionState::kRunning) services_->set_time_sync_enabled(services_->time_sync_enabled());
    api_state_->events().OnStateChange(to_vm_state(state));
  });
  session_.on_machine_outcome([this](const MachineOutcome& outcome) {
    if (outcome.kind == MachineOutcome::Kind::kTripleFault ||
        (outcome.kind == MachineOutcome::Kind::kReset && outcome.message.find("triple fault") != std::string::npos)) {
      api_state_->events().OnTripleFault();
    }
    if (outcome.kind == MachineOutcome::Kind::kPoweredOff) api_state_->events().OnGuestShutdown();
  });
  session_.loop().add_timer(std::chrono::seconds(1), true, [this] { watch_integration(); });
}

void SessionVmHost::watch_integration() {
  bool present = services_->agent_present();
  bool heartbeating = present && services_->heartbeat().heartbeating;
  if (present && !agent_was_present_) api_state_->events().OnAdditionsAvailable();
  if (!present && agent_was_present_) api_state_->events().OnAdditionsUninstalled();
  if (was_heartbeating_ && !heartbeating) api_state_->events().OnHeartbeatStopped();
  agent_was_present_ = present;
  was_heartbeating_ = heartbeating;
}

std::string SessionVmHost::name() const { return session_.config().name; }
VMVMState SessionVmHost::state() const { return to_vm_state(session_.state()); }
uint32_t SessionVmHost::owner_uid() const { return getuid(); }
std::vector<uint32_t> SessionVmHost::granted_uids() const { return session_.options().granted_uids; }
std::vector<uint32_t> SessionVmHost::granted_gids() const { return session_.options().granted_gids; }
void SessionVmHost::audit(const std::string& line) { spdlog::warn("audit: VM {}: {}", session_.config().name, line); }
void SessionVmHost::run_after(std::chrono::milliseconds delay, std::function<void()> callback) {
  session_.loop().add_timer(delay, false, std::move(callback));
}
bool SessionVmHost::on_event_loop_thread() const { return session_.loop().on_loop_thread(); }

}  // namespace kvpc
