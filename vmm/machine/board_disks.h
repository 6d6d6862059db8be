// BoardDisks: the machine's disks — one virtio-blk PCI function per --disk, where it sits,
// and the worker threads behind them.
//
// Placement (docs/architecture.md, docs/storage.md): disk i is PCI 00:(4+i).0, BAR0 = 64 I/O
// ports at 0xC100 + 0x40*i (assigned by kvpc, as for the integration device: direct boot has
// no BIOS to do it), INTA# of every disk wired-OR onto GSI 11 (level). The queue-notify
// register is an ioeventfd, so a kick never exits to userspace.
//
// Concurrency contract: create() during board set-up; start()/stop() from the machine's
// owning thread (start before the vCPUs run, stop after they have been joined).
#pragma once

#include <memory>
#include <vector>

#include "devices/pci_host_bridge.h"
#include "devices/shared_irq_line.h"
#include "devices/virtio/virtio_blk.h"
#include "vmm/guest_memory.h"
#include "vmm/machine/disk_config.h"
#include "vmm/pio_bus.h"
#include "vmm/vm_backend.h"

namespace kvpc {

class BoardDisks {
 public:
  static constexpr int kFirstSlot = 4;
  static constexpr uint32_t kMaxDisks = 8;
  static constexpr uint16_t kFirstBar0 = 0xC100;
  static constexpr uint16_t kBar0Stride = 0x40;
  static constexpr uint32_t kIrq = 11;

  // Opens every image (errors name the --disk) and wires each device onto the buses.
  static Result<std::unique_ptr<BoardDisks>> create(const std::vector<DiskConfig>& disks, VmBackend& backend,
                                                    const GuestMemory& memory, PciHostBridge& pci, PioBus& pio);
  ~BoardDisks();

  Status start();
  void stop();
  size_t count() const { return devices_.size(); }
  VirtioBlk& disk(size_t index) { return *devices_.at(index); }

 private:
  BoardDisks(VmBackend& backend, uint32_t count);
  GsiIrqLine irq_;
  SharedIrqLine shared_irq_;
  std::vector<std::unique_ptr<VirtioBlk>> devices_;
};

}  // namespace kvpc
