// The integration device, HostServices and a C++ guest agent (tests/unit/integration's
// FakeGuest) in a small guest RAM, for the integration fuzz targets. Nothing runs on its
// own: the targets call process(), ticks and guest steps in the order the input says, so
// every run is deterministic and replays exactly.
//
// CheckedObserver holds HostServices to its GuestOperationObserver promise: exactly one of
// on_rejected/on_complete ends an operation, nothing arrives after it, and stop() ends
// whatever is still in flight.
#pragma once

#include <memory>
#include <vector>

#include "tests/fuzz/fuzz_input.h"
#include "tests/unit/integration/fake_guest.h"

namespace kvpc::fuzz {

class CheckedObserver final : public GuestOperationObserver {
 public:
  void on_acknowledged(uint32_t) override { KVPC_FUZZ_CHECK(!ended_); }
  void on_rejected(HRESULT status) override {
    KVPC_FUZZ_CHECK(!ended_);
    KVPC_FUZZ_CHECK(failed(status));
    ended_ = true;
  }
  void on_progress(uint32_t done, uint32_t total, const std::string& name) override {
    KVPC_FUZZ_CHECK(!ended_);
    KVPC_FUZZ_CHECK(done <= total);
    KVPC_FUZZ_CHECK(name.size() <= proto::kSessionNameSize);  // char[32], NUL padded
  }
  void on_complete(HRESULT) override {
    KVPC_FUZZ_CHECK(!ended_);
    ended_ = true;
  }
  bool ended() const { return ended_; }

 private:
  bool ended_ = false;
};

struct IntegrationRig {
  static constexpr uint64_t kRamBytes = 2 << 20;
  static constexpr uint64_t kRingGpa = 0x100000;
  static constexpr uint32_t kRingPages = 8;

  IntegrationRig()
      : memory(testing::make_memory(kRamBytes)),
        device(memory, irq),
        services(device, options()),
        guest(memory, *device.bar_device(0), kRingGpa, kRingPages) {
    KVPC_FUZZ_CHECK(device.init().ok());
  }

  HostServicesOptions options() {
    HostServicesOptions o;
    o.clock = [this] { return clock.now(); };
    o.unix_time_ns = [] { return uint64_t{1700000000} * 1000000000; };
    return o;
  }

  // Host-side API calls a control-socket client could make at any moment.
  void api_call(FuzzInput& in) {
    uint8_t op = in.u8();
    auto kind = static_cast<GuestOperation>(op % 3);
    switch ((op >> 2) % 4) {
      case 0: {
        auto observer = std::make_shared<CheckedObserver>();
        if (services.begin_operation(kind, (op & 0x80) != 0, observer) == S_OK) observers.push_back(observer);
        break;
      }
      case 1: services.abandon_operation(kind, VM_E_TIMED_OUT); break;
      case 2: services.set_time_sync_enabled((op & 0x80) != 0); break;
      default:
        (void)services.os_info();
        (void)services.sessions();
        (void)services.heartbeat();
        (void)services.agent_name();
        (void)services.counters();
    }
  }

  // Ends the run: every operation the API began must have ended exactly once.
  void finish() {
    services.stop();
    for (const auto& observer : observers) KVPC_FUZZ_CHECK(observer->ended());
    KVPC_FUZZ_CHECK(irq.level() == device.irq_asserted());
  }

  testing::FakeClock clock;
  GuestMemory memory;
  testing::RecordingIrq irq;
  IntegrationDevice device;
  HostServices services;
  testing::FakeGuest guest;
  std::vector<std::shared_ptr<CheckedObserver>> observers;
};

}  // namespace kvpc::fuzz
