// BoardDisks: the machine's disks — one virtio-blk PCI function per --disk, where it sits,
// and the worker threads behind them.
//
// Placement (docs/architecture.md, docs/storage.md): disk i is PCI 00:(4+i).0, BAR0 = 64 I/O
// ports. In direct boot kvpc assigns BAR0 = 0xC100 + 0x40*i itself (no BIOS to do it); under
// --bios the function starts unassigned (BAR 0, decoding off) and firmware places it.
// PciBarMapper keeps the registers and the queue-notify ioeventfd (a kick never exits to
// userspace) wherever BAR0 is. INTA# goes through the PIIX3 PIRQ swizzle (PciIntxLines).
//
// Concurrency contract: create() during board set-up; start()/stop() from the machine's
// owning thread (start before the vCPUs run, stop after they have been joined).
#pragma once

#include <memory>
#include <vector>

#include "devices/pci_host_bridge.h"
#include "devices/virtio/virtio_blk.h"
#include "vmm/guest_memory.h"
#include "vmm/machine/disk_config.h"
#include "vmm/machine/pci_bar_mapper.h"
#include "vmm/machine/pci_intx_lines.h"

namespace kvpc {

class BoardDisks {
 public:
  static constexpr int kFirstSlot = 4;
  static constexpr uint32_t kMaxDisks = 8;
  static constexpr uint16_t kFirstBar0 = 0xC100;
  static constexpr uint16_t kBar0Stride = 0x40;

  // Opens every image (errors name the --disk) and wires each device onto the buses.
  // `firmware_assigns_bars`: leave BAR0 and the command register at their reset values.
  static Result<std::unique_ptr<BoardDisks>> create(const std::vector<DiskConfig>& disks, const GuestMemory& memory,
                                                    PciHostBridge& pci, PciBarMapper& bars, PciIntxLines& intx,
                                                    bool firmware_assigns_bars);
  ~BoardDisks();

  Status start();
  void stop();
  size_t count() const { return devices_.size(); }
  VirtioBlk& disk(size_t index) { return *devices_.at(index); }

 private:
  BoardDisks() = default;
  std::vector<std::unique_ptr<VirtioBlk>> devices_;
};

}  // namespace kvpc
