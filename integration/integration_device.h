// IntegrationDevice: the kvpc integration PCI function (docs/integration-protocol.md section 1).
//
// It owns the config space (IDs, BAR0 = 64 I/O ports, INTA#) and the BAR0 register block. It
// does no protocol work: register writes on vCPU threads only record state and signal the
// doorbell eventfd; HostServices (through IntegrationLink) does the rest on the event loop.
//
// What the machine must wire (see docs/integration-device.md):
//   * the IrqLine passed in: INTA#, level-triggered (GSI 10 on the PC board); also put the
//     GSI into config().set_interrupt_line();
//   * bar_device(0) on the PioBus at the BAR0 base (kDefaultBar0Port), 64 ports, and
//     config().set_bar_address(0, base) + set_command(kCommandIo) (direct boot has no BIOS);
//   * VmBackend::add_ioeventfd(kPio, base + doorbell_port_offset(), 4, doorbell_eventfd(),
//     nullopt) where the accelerator has ioeventfds (a DOORBELL write through IoDevice::write
//     signals the same eventfd, so the machine works without them);
//   * HostServices::start(loop) registers doorbell_eventfd() on the event loop.
//
// ATTACH is validated synchronously on the vCPU thread (a few compares, no allocation) so
// STATUS is exact as soon as the guest's OUT returns; the new ring is picked up by the event
// loop through the link epoch.
//
// Concurrency contract: BAR0 read()/write() run on any vCPU thread; the "loop side" methods
// run on the event-loop thread. Link state, ISR, STATUS and the IRQ level live under one
// mutex held for a few instructions (never across a syscall other than the eventfd write and
// IrqLine::set_level, which do not block) or, in with_current_link(), for one ring access of
// at most one packet (a copy of <= 4 KiB). The loop writes guest ring memory only inside
// with_current_link(), so a RESET/ATTACH linearises with it: the link's writes for an epoch
// happen entirely before the CONTROL write that ends it, or not at all. Nothing here
// allocates after init().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

#include "devices/pci_config_space.h"
#include "devices/pci_device.h"
#include "integration/protocol.h"
#include "integration/ring.h"
#include "vmm/guest_memory.h"
#include "vmm/io_device.h"
#include "vmm/irq_line.h"
#include "vmm/result.h"

namespace kvpc {

class IntegrationDevice final : public PciDevice {
 public:
  IntegrationDevice(const GuestMemory& memory, IrqLine& irq);
  ~IntegrationDevice() override;
  IntegrationDevice(const IntegrationDevice&) = delete;
  IntegrationDevice& operator=(const IntegrationDevice&) = delete;

  // Creates the doorbell eventfd. Set-up only.
  Status init();

  // PciDevice
  std::string_view pci_name() const override { return "kvpc-integration"; }
  PciConfigSpace& config() override { return config_; }
  IoDevice* bar_device(int index) override { return index == 0 ? &registers_ : nullptr; }

  int doorbell_eventfd() const { return doorbell_fd_; }
  static constexpr uint32_t doorbell_port_offset() { return proto::kRegDoorbell; }

  // --- Event-loop side ----------------------------------------------------------------------
  struct LinkState {
    uint64_t epoch = 0;              // changes on every ATTACH and RESET
    std::optional<RingArea> area;    // set while attached
  };
  LinkState link_state() const;
  // Runs access() under the device mutex, and only while link `epoch` is still current (same
  // epoch and attached); returns false without calling it when the guest has RESET or
  // re-ATTACHed since. Every host access that writes guest ring memory (packet bytes, tx_read,
  // rx_write) goes through here: RESET/ATTACH bump the epoch under the same mutex, so once the
  // guest's CONTROL write has returned no write for an older epoch can land in guest memory,
  // neither in the old ring (which the guest may have reused) nor in a new ring at the same
  // address. access() must be short (at most one packet copied), must not block or allocate
  // unboundedly, and must not call back into this device (the mutex is not recursive).
  template <typename Access>
  bool with_current_link(uint64_t epoch, Access&& access) {
    if (link_access_hook_) link_access_hook_();
    std::lock_guard lock(mutex_);
    if (epoch != epoch_ || !area_) return false;
    std::forward<Access>(access)();
    return true;
  }
  // Test seam: called by with_current_link() on the thread driving the link (the loop, or a
  // GuestServices caller under HostServices' lock) before it takes the mutex, i.e. after the
  // link has decided to touch the ring of its epoch but before the epoch is re-checked. Tests
  // use it to RESET/ATTACH at exactly that point. Set it while nothing drives the link; it must
  // not call with_current_link(). Empty in production.
  void set_link_access_hook_for_testing(std::function<void()> hook) { link_access_hook_ = std::move(hook); }
  // Reads (clears) the doorbell eventfd; true when it had been signalled.
  bool consume_doorbell();
  // Signals the doorbell eventfd (also how a vCPU's DOORBELL write reaches the loop).
  void signal_doorbell();
  // Packets were written to RX of link `epoch`: sets ISR.RX and asserts INTA# unless the
  // guest masked RX interrupts. Ignored when the link has changed since.
  void signal_rx(uint64_t epoch, bool masked);
  // Counts a protocol error against link `epoch` (ERROR_COUNT, STATUS bits 8-15) and in the
  // lifetime per-code counters.
  void count_error(uint64_t epoch, proto::LinkError error);
  // The host drops the link itself (VM stopping, host-side fault): detach, ISR.RESET, INTA#.
  void host_reset_link();
  // Machine reset: back to power-on state (detached, ISR 0, line low, counters kept).
  void reset();

  uint64_t lifetime_errors(proto::LinkError error) const;
  // BAR0 registers as the guest would read them (ISR without clearing it), link and line state.
  void describe(StateWriter& out);
  bool irq_asserted() const;

 private:
  class Registers final : public IoDevice {
   public:
    explicit Registers(IntegrationDevice& device) : device_(device) {}
    std::string_view name() const override { return "integration"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    void describe(StateWriter& out) override { device_.describe(out); }

   private:
    IntegrationDevice& device_;
  };

  uint32_t read_register(uint32_t offset);
  void write_register(uint32_t offset, uint32_t value);
  void attach();
  void detach_locked();
  void update_line_locked();

  const GuestMemory& memory_;
  IrqLine& irq_;
  PciConfigSpace config_;
  Registers registers_;
  int doorbell_fd_ = -1;

  std::atomic<uint32_t> ring_gpa_lo_{0};
  std::atomic<uint32_t> ring_gpa_hi_{0};
  std::atomic<uint32_t> ring_pages_{0};

  mutable std::mutex mutex_;  // guards everything below
  uint64_t epoch_ = 0;
  std::optional<RingArea> area_;
  uint32_t isr_ = 0;
  bool rx_masked_ = false;
  bool line_ = false;
  uint8_t last_error_ = 0;
  uint32_t error_count_ = 0;
  std::array<uint64_t, proto::kLinkErrorCount> lifetime_errors_{};

  std::function<void()> link_access_hook_;  // tests only; see set_link_access_hook_for_testing
};

}  // namespace kvpc
