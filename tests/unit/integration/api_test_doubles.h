// Test doubles for the IVMGuestOS/IVMTask API: a hand-driven clock, GMock fakes of
// GuestServices, VmHost and an event sink, and ApiRig, which wires them into a running VM with
// a complete guest agent. For tests only (it needs GMock): the library never includes it.
//
// ManualClock jumps instead of sleeping: a wait_until(t) moves its time to t at once, so a test
// of a 5 s acknowledgment window or a 60 s deadline runs in microseconds. Use the real clock
// (ApiClock::steady()) for tests with more than one thread.
#pragma once

#include <gmock/gmock.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "integration/api/api_clock.h"
#include "integration/api/vm_api_state.h"
#include "integration/api/vm_events.h"
#include "integration/api/vm_guest_os.h"
#include "integration/api/vm_host.h"
#include "integration/api/vm_virtual_machine.h"
#include "integration/guest_services.h"

namespace kvpc::testing {

class ManualClock final : public ApiClock {
 public:
  time_point now() const override { return time_point(std::chrono::nanoseconds(ticks_.load())); }

  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  time_point until) override {
    if (until == time_point::max()) {
      cv.wait_for(lock, std::chrono::milliseconds(1));  // nothing to jump to: a short real wait
      return;
    }
    if (until > now()) set(until);
  }

  void advance(std::chrono::milliseconds delta) {
    ticks_ += std::chrono::duration_cast<std::chrono::nanoseconds>(delta).count();
  }
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now() - start());
  }
  static time_point start() { return time_point(std::chrono::hours(1)); }

 private:
  void set(time_point t) { ticks_ = t.time_since_epoch().count(); }

  std::atomic<int64_t> ticks_{start().time_since_epoch().count()};
};

class MockGuestServices : public GuestServices {
 public:
  MOCK_METHOD(bool, agent_present, (), (const, override));
  MOCK_METHOD(uint32_t, agent_features, (), (const, override));
  MOCK_METHOD(bool, channel_ready, (uint16_t service_id), (const, override));
  MOCK_METHOD(HeartbeatStatus, heartbeat, (), (const, override));
  MOCK_METHOD((std::map<std::string, std::string>), os_info, (), (const, override));
  MOCK_METHOD(std::optional<std::vector<std::string>>, sessions, (), (const, override));
  MOCK_METHOD(HRESULT, begin_operation,
              (GuestOperation operation, bool forced, std::shared_ptr<GuestOperationObserver> observer),
              (override));
  MOCK_METHOD(bool, time_sync_enabled, (), (const, override));
  MOCK_METHOD(void, set_time_sync_enabled, (bool enabled), (override));
};

class MockVmHost : public VmHost {
 public:
  MOCK_METHOD(std::string, name, (), (const, override));
  MOCK_METHOD(bool, known, (), (const, override));
  MOCK_METHOD(VMVMState, state, (), (const, override));
  MOCK_METHOD(std::shared_ptr<GuestServices>, guest_services, (), (const, override));
  MOCK_METHOD(uint32_t, owner_uid, (), (const, override));
  MOCK_METHOD(std::vector<uint32_t>, granted_uids, (), (const, override));
  MOCK_METHOD(std::vector<uint32_t>, granted_gids, (), (const, override));
  MOCK_METHOD(void, audit, (const std::string& line), (override));
  MOCK_METHOD(void, run_after, (std::chrono::milliseconds delay, std::function<void()> callback),
              (override));
  MOCK_METHOD(bool, on_event_loop_thread, (), (const, override));
  MOCK_METHOD(std::shared_ptr<VmApiState>, api_state, (), (const, override));
};

class MockEventSink : public IVMVirtualMachineEvents {
 public:
  MOCK_METHOD(HRESULT, OnStateChange, (VMVMState state), (override));
  MOCK_METHOD(HRESULT, OnTripleFault, (), (override));
  MOCK_METHOD(HRESULT, OnHeartbeatStopped, (), (override));
  MOCK_METHOD(HRESULT, OnAdditionsUninstalled, (), (override));
  MOCK_METHOD(HRESULT, OnAdditionsAvailable, (), (override));
  MOCK_METHOD(HRESULT, OnGuestShutdown, (), (override));
  MOCK_METHOD(HRESULT, OnGuestLogoff, (VMLogoffType type), (override));
};

inline constexpr uint32_t kOwnerUid = 1000;
inline constexpr uint32_t kAllFeatures = kFeatureHeartbeat | kFeatureOsInfo | kFeatureShutdown |
                                         kFeatureRestart | kFeatureLogoff | kFeatureTimeSync |
                                         kFeatureSessionList;

inline constexpr VMVMState kEveryStateButRunning[] = {
    vmVMState_Invalid,  vmVMState_TurnedOff, vmVMState_Saved,      vmVMState_TurningOn,
    vmVMState_Restoring, vmVMState_Paused,   vmVMState_Saving,     vmVMState_TurningOff,
    vmVMState_MergingDrives, vmVMState_DeleteMachine};

// For parameterized test names.
inline std::string state_name(VMVMState state) {
  static const char* const names[] = {"Invalid",  "TurnedOff", "Saved",      "TurningOn",
                                      "Restoring", "Running",  "Paused",     "Saving",
                                      "TurningOff", "MergingDrives", "DeleteMachine"};
  return (state >= 0 && state <= 10) ? names[state] : "Unknown";
}

// Every os-info key a complete agent reports (docs/integration-protocol.md section 8).
inline std::map<std::string, std::string> complete_os_info() {
  return {{"ComputerName", "guest1"},          {"OSName", "kvpc test OS"},
          {"OSMajorVersion", "6"},             {"OSMinorVersion", "1"},
          {"OSBuildNumber", "7601"},           {"OSVersion", "6.1.7601"},
          {"OSPlatformId", "2"},               {"CSDVersion", "Service Pack 1"},
          {"ServicePackMajor", "1"},           {"ServicePackMinor", "0"},
          {"SuiteMask", "0x0110"},             {"ProductType", "1"},
          {"IntegrationComponentsVersion", "1.0.0"},
          {"TerminalServicesInitialized", "1"}, {"MultipleUserSessionsAllowed", "0"},
          {"TerminalServerPort", "3389"},      {"ScreenLocked", "false"}};
}

// A running VM "vm1" owned by uid 1000 with a complete agent. Every default is an ON_CALL, so a
// test changes one fact with ON_CALL/EXPECT_CALL or the plain fields below.
struct ApiRig {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<VmApiState> state = std::make_shared<VmApiState>(clock);
  std::shared_ptr<::testing::NiceMock<MockGuestServices>> services =
      std::make_shared<::testing::NiceMock<MockGuestServices>>();
  std::shared_ptr<::testing::NiceMock<MockVmHost>> host =
      std::make_shared<::testing::NiceMock<MockVmHost>>();

  // What begin_operation received last, and what the host was asked to do.
  std::shared_ptr<GuestOperationObserver> observer;
  int begin_calls = 0;
  std::vector<std::string> audit_lines;
  std::vector<std::pair<std::chrono::milliseconds, std::function<void()>>> timers;
  // How the fake guest answers begin_operation: acknowledge at once (default), or stay silent.
  bool guest_acknowledges = true;
  uint32_t sessions_found = 2;
  HRESULT begin_result = S_OK;

  ApiRig(const ApiRig&) = delete;  // the mocks' default actions point at this object
  ApiRig& operator=(const ApiRig&) = delete;

  ApiRig() {
    using ::testing::_;
    using ::testing::Return;
    ON_CALL(*services, agent_present()).WillByDefault(Return(true));
    ON_CALL(*services, agent_features()).WillByDefault(Return(kAllFeatures));
    ON_CALL(*services, channel_ready(_)).WillByDefault(Return(true));
    ON_CALL(*services, heartbeat())
        .WillByDefault(Return(HeartbeatStatus{.heartbeating = true, .percentage = 90, .beats_answered = 9}));
    ON_CALL(*services, os_info()).WillByDefault(Return(complete_os_info()));
    ON_CALL(*services, sessions())
        .WillByDefault(Return(std::optional<std::vector<std::string>>(std::vector<std::string>{"alice"})));
    ON_CALL(*services, time_sync_enabled()).WillByDefault(Return(true));
    ON_CALL(*services, begin_operation(_, _, _))
        .WillByDefault([this](GuestOperation, bool, std::shared_ptr<GuestOperationObserver> o) {
          ++begin_calls;
          if (begin_result != S_OK) return begin_result;
          observer = std::move(o);
          if (guest_acknowledges) observer->on_acknowledged(sessions_found);
          return S_OK;
        });

    ON_CALL(*host, name()).WillByDefault(Return("vm1"));
    ON_CALL(*host, known()).WillByDefault(Return(true));
    ON_CALL(*host, state()).WillByDefault(Return(vmVMState_Running));
    ON_CALL(*host, guest_services()).WillByDefault([this] { return services; });
    ON_CALL(*host, owner_uid()).WillByDefault(Return(kOwnerUid));
    ON_CALL(*host, granted_uids()).WillByDefault(Return(std::vector<uint32_t>{}));
    ON_CALL(*host, granted_gids()).WillByDefault(Return(std::vector<uint32_t>{}));
    ON_CALL(*host, audit(_)).WillByDefault([this](const std::string& line) { audit_lines.push_back(line); });
    ON_CALL(*host, run_after(_, _))
        .WillByDefault([this](std::chrono::milliseconds delay, std::function<void()> callback) {
          timers.emplace_back(delay, std::move(callback));
        });
    ON_CALL(*host, on_event_loop_thread()).WillByDefault(Return(false));
    ON_CALL(*host, api_state()).WillByDefault([this] { return state; });
  }

  static CallerIdentity owner() { return CallerIdentity{kOwnerUid, kOwnerUid, {}}; }
  static CallerIdentity stranger() { return CallerIdentity{2000, 2000, {2001}}; }

  std::shared_ptr<VMVirtualMachine> open_vm(CallerIdentity caller = owner()) {
    std::shared_ptr<VMVirtualMachine> vm;
    EXPECT_EQ(VMVirtualMachine::open(host, std::move(caller), &vm), S_OK);
    return vm;
  }

  // The owner's IVMGuestOS (kept alive with its VMVirtualMachine by the rig).
  std::shared_ptr<IVMGuestOS> guest_os(CallerIdentity caller = owner()) {
    vms.push_back(open_vm(std::move(caller)));
    std::shared_ptr<IVMGuestOS> guest;
    EXPECT_EQ(vms.back()->get_GuestOS(&guest), S_OK);
    return guest;
  }

  // Runs every timer the API scheduled (as the event loop would when they come due).
  void fire_timers() {
    auto due = std::move(timers);
    timers.clear();
    for (auto& [delay, callback] : due) callback();
  }

  std::vector<std::shared_ptr<VMVirtualMachine>> vms;
};

}  // namespace kvpc::testing
