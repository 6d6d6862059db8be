// PcPlatform: the legacy-PC and firmware-facing devices a BIOS probes for, beyond the base
// board: CMOS/RTC (0x70-0x71, IRQ 8), the 8254 PIT (0x40-0x43, IRQ 0) and port 0x61 when
// the accelerator has no in-kernel PIT (emu), QEMU's fw_cfg (0x510-0x511), the PIIX3 ISA
// bridge at 00:01.0 (PIRQ routing), and a second debugcon on 0x402 (where SeaBIOS built for
// QEMU, Debian's included, writes its log) sharing the 0xE9 console's output.
// See docs/firmware.md for what firmware finds here, and docs/devices.md for the rows.
//
// The timers (PIT channel 0, RTC periodic/update/alarm interrupts) are evaluated lazily from
// the host clock by the device models; one timer thread owned here wakes at the next edge
// (at most every 50 ms when idle, so a newly programmed PIT starts within that) and calls
// tick(), which raises the IRQ edge.
//
// Concurrency contract: create() runs before the vCPUs; start() once before they run;
// stop() (idempotent, also run by the destructor) joins the timer thread before the backend
// it raises interrupts on can go away. Devices lock themselves (see their headers).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "devices/char_backend.h"
#include "devices/cmos_rtc.h"
#include "devices/debugcon.h"
#include "devices/fw_cfg.h"
#include "devices/pci_host_bridge.h"
#include "devices/piix3_isa_bridge.h"
#include "devices/pit8254.h"
#include "vmm/guest_memory.h"
#include "vmm/machine/machine_config.h"
#include "vmm/pio_bus.h"
#include "vmm/vm_backend.h"

namespace kvpc {

// An IrqLine for a PCI INTx pin wired to PIIX3 PIRQ `pirq`: it drives the ISA IRQ the guest
// routed that PIRQ to, or `fallback_gsi` while routing is disabled (direct boot: no
// firmware programs the PIIX3). A level held across a re-route moves with it.
class PirqIrqLine final : public IrqLine {
 public:
  PirqIrqLine(VmBackend& vm, const Piix3IsaBridge& piix3, int pirq, uint32_t fallback_gsi)
      : vm_(vm), piix3_(piix3), pirq_(pirq), fallback_(fallback_gsi) {}
  void set_level(bool asserted) override;

 private:
  VmBackend& vm_;
  const Piix3IsaBridge& piix3_;
  int pirq_;
  uint32_t fallback_;
  std::mutex mutex_;
  bool asserted_ = false;
  uint32_t driven_gsi_ = 0;
};

class PcPlatform {
 public:
  static constexpr uint16_t kQemuDebugcon = 0x402;

  static Result<std::unique_ptr<PcPlatform>> create(const MachineConfig& config, VmBackend& backend,
                                                    const GuestMemory& memory, PioBus& pio, PciHostBridge& pci,
                                                    CharBackend& debugcon_output);
  ~PcPlatform();

  void start();
  void stop();

  CmosRtc& rtc() { return *rtc_; }
  FwCfg& fw_cfg() { return *fw_cfg_; }
  Piix3IsaBridge& piix3() { return *piix3_; }
  Pit8254* pit() { return pit_.get(); }  // nullptr when the accelerator brings its own

 private:
  PcPlatform() = default;
  void timer_thread();

  std::unique_ptr<GsiIrqLine> rtc_irq_, pit_irq_;
  std::unique_ptr<CmosRtc> rtc_;
  std::unique_ptr<Pit8254> pit_;
  std::unique_ptr<PortB> port_b_;
  std::unique_ptr<FwCfg> fw_cfg_;
  std::unique_ptr<Piix3IsaBridge> piix3_;
  std::unique_ptr<Debugcon> qemu_debugcon_;
  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  bool stopping_ = false;
  std::thread timer_;
};

// The CMOS bytes a PC BIOS reads for memory size, equipment and boot order (docs/firmware.md).
void fill_pc_cmos(CmosRtc& rtc, uint64_t ram_bytes, uint32_t cpus);
// The fw_cfg items and files kvpc gives firmware (docs/firmware.md lists them).
Status fill_fw_cfg(FwCfg& fw_cfg, uint64_t ram_bytes, uint32_t cpus);

}  // namespace kvpc
