// HostServices: kvpc's side of the integration components. Implements GuestServices over the
// integration device: heartbeat, os-info, sessions, time sync, and shutdown/restart/logoff
// operations with their acknowledgment, progress and completion.
//
// Life: construct with the device, start(loop) (registers the doorbell eventfd and the
// heartbeat/time-sync timers), stop() when the VM stops (ends every operation in flight with
// VM_E_VM_NOT_RUNNING). Tests may skip start() and call process()/heartbeat_tick()/
// time_sync_tick() themselves with an injected clock: that is what the unit tests do.
//
// Concurrency contract:
//   * process(), heartbeat_tick(), time_sync_tick() run on the event-loop thread (they are the
//     loop's callbacks); the GuestServices methods and stop() are safe from any thread.
//   * One mutex (state_) guards all state; getters take only it.
//   * Observer callbacks never run under state_: entry points that can end or advance an
//     operation first take delivery_ (recursive), do their work under state_, release state_,
//     then call the observers. So observers of one operation see a consistent order even when
//     stop() races with the loop, and an observer may call back into this object (getters or
//     begin_operation) without deadlock. Observers are called on the loop thread, except for
//     on_complete(VM_E_VM_NOT_RUNNING) which runs on the thread that called stop().
//   * Lifetime: the EventLoop may be running a copy of the doorbell callback while stop()
//     unregisters it (a late process() after stop() is a no-op), so destroy HostServices only
//     after the loop thread has stopped, or from the loop thread itself.
#pragma once

#include "vmm/state_writer.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "integration/channels.h"
#include "integration/guest_services.h"
#include "integration/heartbeat_meter.h"
#include "integration/integration_device.h"
#include "integration/link.h"
#include "vmm/event_loop.h"
#include "vmm/result.h"

namespace kvpc {

struct HostServicesOptions {
  std::chrono::milliseconds heartbeat_interval{6000};  // 10 beats per minute, as Virtual PC
  std::chrono::milliseconds time_sync_interval{60000};
  bool time_sync_enabled = true;
  // Injected clocks; empty means steady_clock::now / system_clock (Unix time in ns).
  std::function<std::chrono::steady_clock::time_point()> clock;
  std::function<uint64_t()> unix_time_ns;
};

struct HostServicesCounters {
  uint64_t operations_started = 0;
  uint64_t operations_completed = 0;  // ended by COMPLETE from the guest
  uint64_t operations_rejected = 0;
  uint64_t operations_broken = 0;     // ended by link down / new HELLO / channel close / stop
  uint64_t beats_sent = 0;
  uint64_t time_syncs_sent = 0;
  uint64_t os_info_updates = 0;
  uint64_t session_updates = 0;
};

class HostServices final : public GuestServices,
                           private IntegrationLink::Listener,
                           private ChannelTable::Events {
 public:
  explicit HostServices(IntegrationDevice& device, HostServicesOptions options = {});
  ~HostServices() override;
  HostServices(const HostServices&) = delete;
  HostServices& operator=(const HostServices&) = delete;

  Status start(EventLoop& loop);
  // Ends every operation in flight with VM_E_VM_NOT_RUNNING and leaves the loop. Safe twice.
  void stop();

  // The doorbell callback: follows ATTACH/RESET, handles the guest's packets, flushes RX.
  void process();
  // Timer callbacks (also flush RX, so a guest that freed RX space gets held-back messages).
  void heartbeat_tick();
  void time_sync_tick();

  // GuestServices
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

  // Diagnostics.
  std::string agent_name() const;
  HostServicesCounters counters() const;
  LinkCounters link_counters() const;
  std::optional<ChannelStatus> channel_status(uint16_t channel) const;
  // `kvpc inspect integration`: agent, channels with their counters, the RX queue waiting for
  // ring space, operations in flight, link and service counters.
  void describe(StateWriter& out) const;

 private:
  using Deferred = std::function<void()>;
  struct InFlight {
    GuestOperation kind;
    uint32_t transaction_id;
    bool acknowledged;
    std::shared_ptr<GuestOperationObserver> observer;
  };

  // IntegrationLink::Listener
  void on_link_up() override;
  void on_link_down() override;
  void on_message(const proto::Message& message) override;
  // ChannelTable::Events
  void on_hello(const proto::HelloRequest& hello) override;
  void on_channel_ready(uint16_t channel) override;
  void on_channel_closed(uint16_t channel) override;

  void handle_heartbeat(const proto::Message& message);
  void handle_os_info(const proto::Message& message);
  void handle_shutdown(const proto::Message& message);
  void handle_operation_ack(const proto::Message& message);
  void handle_progress(const proto::Message& message);
  void handle_complete(const proto::Message& message);
  void handle_session_list(const proto::Message& message);

  void send_request(uint16_t channel, uint16_t type, std::span<const uint8_t> body);
  void send_time();
  uint32_t next_transaction_id();
  std::optional<InFlight>* find_operation(uint32_t transaction_id);
  // Ends every operation in flight with `status` (observers deferred).
  void break_operations(HRESULT status);
  void forget_agent();
  std::chrono::steady_clock::time_point now() const;
  // Runs deferred observer calls; call with delivery_ held and state_ released.
  void deliver();

  IntegrationDevice& device_;
  HostServicesOptions options_;

  std::recursive_mutex delivery_;
  mutable std::mutex state_;
  IntegrationLink link_;
  ChannelTable channels_;
  HeartbeatMeter meter_;
  std::vector<Deferred> deferred_;
  bool stopped_ = false;
  bool agent_present_ = false;
  uint32_t features_ = 0;
  std::string agent_name_;
  std::map<std::string, std::string> os_info_;
  std::optional<std::vector<std::string>> sessions_;
  bool time_sync_enabled_;
  std::array<std::optional<InFlight>, 3> operations_;  // indexed by GuestOperation
  uint32_t last_transaction_id_ = 0;
  uint64_t beat_sequence_ = 0;
  HostServicesCounters counters_;

  EventLoop* loop_ = nullptr;
  EventLoop::TimerId heartbeat_timer_ = 0;
  EventLoop::TimerId time_sync_timer_ = 0;
};

}  // namespace kvpc
