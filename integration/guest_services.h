// GuestServices: what the IVMGuestOS API needs from the host side of the integration
// components, and nothing more. integration/host_services.* implements it over the
// integration device's channels; the API tests implement it with fakes.
//
// Concurrency contract: every method is safe from any thread. Observers are called on the
// event-loop thread (the thread that processes guest messages) and must not block.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integration/hresult.h"

namespace kvpc {

// HELLO.features bits (docs/integration-protocol.md section 5).
enum AgentFeature : uint32_t {
  kFeatureHeartbeat = 0x01,
  kFeatureOsInfo = 0x02,
  kFeatureShutdown = 0x04,
  kFeatureRestart = 0x08,
  kFeatureLogoff = 0x10,
  kFeatureTimeSync = 0x20,
  kFeatureSessionList = 0x40,
};

enum class GuestOperation { kShutdown, kRestart, kLogoff };

// Receives the life of one guest operation. Exactly one of on_rejected/on_complete ends it.
class GuestOperationObserver {
 public:
  virtual ~GuestOperationObserver() = default;
  // The guest acknowledged the request (status S_OK) and found `sessions_found` sessions.
  virtual void on_acknowledged(uint32_t sessions_found) = 0;
  // The guest refused the request in its acknowledgment (its HRESULT).
  virtual void on_rejected(HRESULT status) = 0;
  virtual void on_progress(uint32_t done, uint32_t total, const std::string& session_name) = 0;
  // The operation finished in the guest with `status`, or the channel broke
  // (DISP_E_EXCEPTION), or the VM stopped (VM_E_VM_NOT_RUNNING).
  virtual void on_complete(HRESULT status) = 0;
};

struct HeartbeatStatus {
  bool heartbeating = false;        // a beat answered within the last 2 intervals
  uint32_t percentage = 0;          // answered / expected over the past minute, 0..100
  uint64_t beats_answered = 0;
};

class GuestServices {
 public:
  virtual ~GuestServices() = default;

  // True once an agent said HELLO on an attached link (and not reset since).
  virtual bool agent_present() const = 0;
  // HELLO.features of the present agent, 0 when none.
  virtual uint32_t agent_features() const = 0;
  // True when the agent has opened and negotiated the channel of `service_id` (1-4).
  virtual bool channel_ready(uint16_t service_id) const = 0;

  virtual HeartbeatStatus heartbeat() const = 0;
  // The last os-info the agent sent (key -> value); empty when it sent none.
  virtual std::map<std::string, std::string> os_info() const = 0;
  // The last session list the agent reported; nullopt when it never reported one.
  virtual std::optional<std::vector<std::string>> sessions() const = 0;

  // Sends the request. Returns S_OK when it was queued to the guest (the observer then
  // receives the rest), DISP_E_EXCEPTION when the link is down, E_BUSY when an operation
  // of the same kind is already in flight. Host services may also answer
  // VM_E_ADDITIONS_FEATURE_NOT_AVAIL (the agent lacks the feature bit or the shutdown
  // channel), VM_E_VM_NOT_RUNNING (after stop()) and E_POINTER (null observer).
  virtual HRESULT begin_operation(GuestOperation operation, bool forced,
                                  std::shared_ptr<GuestOperationObserver> observer) = 0;

  // Gives up on the operation of this kind in flight (the caller's acknowledgment window or
  // task deadline passed): its observer gets on_complete(outcome), e.g. VM_E_TIMED_OUT, and
  // the slot is free for a new begin_operation; whatever the guest sends for it later is
  // dropped. No-op when nothing of that kind is in flight. (Default: nothing to abandon.)
  virtual void abandon_operation(GuestOperation /*operation*/, HRESULT /*outcome*/) {}

  virtual bool time_sync_enabled() const = 0;
  virtual void set_time_sync_enabled(bool enabled) = 0;
};

}  // namespace kvpc
