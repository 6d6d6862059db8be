// PciDevice: what a PCI function offers the host bridge and the board.
//
// The host bridge routes config cycles to config(); the board registers bar_device(i) on the
// bus at the address it assigned to BAR i (kvpc assigns BARs itself in direct boot and does
// not follow a guest moving them: the port table is frozen once vCPUs run).
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

}  // namespace kvpc
