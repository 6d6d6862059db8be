// PciBarMapper: keeps each PCI function's I/O BARs on the port bus where the guest put them.
//
// A BAR decodes when its command-register enable bit is set (I/O space for I/O BARs), its
// base is non-zero and the whole range fits below 0x10000. Whenever a config write touches
// the command register or a BAR (the host bridge reports it: PciConfigObserver), the mapper
// compares what each BAR should decode with what is on the bus and moves it: unmap the old
// range and remove the ioeventfds (doorbells) inside it, then map the new range and add the
// doorbells at the new address. Sizing (all ones written to a BAR) leaves the base above
// 0xFFFF, so the device is simply not decoded until firmware writes a real base back.
//
// Conflicts: a BAR whose new range overlaps ports another device claims is left unmapped
// (the guest sees all ones there) and stays pending; every later decode change retries the
// pending BARs, so firmware that moves device A onto B's old ports before moving B away ends
// with both mapped. A base of 0 counts as "unassigned" (it would overlap the PIC/DMA ports).
//
// Doorbells: if the accelerator cannot add or remove an ioeventfd, the doorbell stays on
// the exit path — every kvpc doorbell register also signals its eventfd from IoDevice::write
// — and a warning is printed once; the guest sees no difference but the exit count.
//
// Memory BARs: no kvpc device has one, so manage() refuses a device with one rather than
// pretend to map it (MmioBus would need the same remap support as PioBus).
//
// Concurrency contract: manage() is set-up only (before the vCPUs run). config_written()
// runs on the vCPU thread that wrote config space, serialised by the host bridge lock; an
// internal mutex also orders it against mapped_base() from other threads (tests, stats).
// What another vCPU sees during a move is described in vmm/pio_bus.h.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "devices/pci_device.h"
#include "vmm/pio_bus.h"
#include "vmm/result.h"
#include "vmm/vm_backend.h"

namespace kvpc {

// An ioeventfd that lives at `offset` inside BAR `bar` of a device.
struct PciBarDoorbell {
  int bar = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  int eventfd = -1;
};

class PciBarMapper final : public PciConfigObserver {
 public:
  PciBarMapper(PioBus& pio, VmBackend& backend) : pio_(pio), backend_(backend) {}

  // Follows `device`'s I/O BARs from now on and maps what its config space decodes already
  // (direct boot: the board's fixed assignment; an error there is a board wiring bug).
  Status manage(PciDevice& device, std::vector<PciBarDoorbell> doorbells);

  void config_written(PciDevice& device, uint32_t offset, size_t length) override;

  // Where BAR `bar` of `device` is on the port bus now, or nullopt (not decoded / pending).
  std::optional<uint16_t> mapped_base(const PciDevice& device, int bar) const;
  // BARs that should decode but could not be mapped (a conflict), machine-wide.
  uint32_t pending_count() const;

 private:
  struct Bar {
    int index;
    uint32_t size;
    std::optional<uint16_t> mapped;
    bool pending = false;
  };
  struct Doorbell {
    PciBarDoorbell spec;
    bool registered = false;  // an ioeventfd is installed for the BAR's current base
  };
  struct Managed {
    PciDevice* device;
    std::vector<Bar> bars;
    std::vector<Doorbell> doorbells;
  };

  std::optional<uint16_t> wanted_base(Managed& managed, const Bar& bar) const;
  Status sync(Managed& managed);  // mutex held
  void unmap_bar(Managed& managed, Bar& bar);
  void map_doorbells(Managed& managed, const Bar& bar);
  void warn_once(const std::string& message);

  PioBus& pio_;
  VmBackend& backend_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Managed>> devices_;
  bool warned_ = false;
};

}  // namespace kvpc
