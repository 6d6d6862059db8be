// PciDevice: what a PCI function offers the host bridge and the board.
//
// The host bridge routes config cycles to config(); PciBarMapper (vmm/machine) puts
// bar_device(i) on the port bus where BAR i decodes, and moves it when the guest reprograms
// the BAR or the command register (kvpc assigns BARs itself in direct boot; firmware
// reassigns them under --bios).
//
// Concurrency contract: config() must be safe from any vCPU thread (PciConfigSpace locks
// internally); each BAR IoDevice documents its own locking.
#pragma once

#include <string_view>

#include "devices/pci_config_space.h"
#include "vmm/io_device.h"

namespace kvpc {

class PciDevice {
 public:
  virtual ~PciDevice() = default;
  virtual std::string_view pci_name() const = 0;
  virtual PciConfigSpace& config() = 0;
  // The register block behind BAR `index`, or nullptr when the BAR is unused.
  virtual IoDevice* bar_device(int index) = 0;
};

// Told about every guest config-space write the host bridge delivers to a function, after it
// has been applied (PciBarMapper follows BAR and command changes through this). Called on the
// writing vCPU thread with the host bridge's lock held, so calls are serialised machine-wide.
class PciConfigObserver {
 public:
  virtual ~PciConfigObserver() = default;
  virtual void config_written(PciDevice& device, uint32_t offset, size_t length) = 0;
};

}  // namespace kvpc
