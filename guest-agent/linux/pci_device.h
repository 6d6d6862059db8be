// The integration PCI function (6b76:4943) as a Linux process sees it: found through sysfs,
// BAR0 registers through /sys/bus/pci/devices/<bdf>/resource0 (pread/pwrite of 4 bytes at the
// register offset: the kernel turns them into inl/outl for an I/O BAR), or ioperm + inl/outl
// when resource0 cannot be opened. The interrupt through uio_pci_generic (/dev/uioN: write 1 to
// unmask INTx, read() returns after the next interrupt), else a bounded poll.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "guest-agent/linux/transport.h"

namespace kvpc::agent {

class SysfsPciDevice final : public Device {
 public:
  // The device's sysfs directory ("/sys/bus/pci/devices/0000:00:03.0"), or "" when absent.
  static std::string find(const std::string& sysfs_root = "/sys/bus/pci/devices");
  // Opens BAR0 and (unless use_uio is false) binds uio_pci_generic. nullptr + *error on failure.
  static std::unique_ptr<SysfsPciDevice> open(const std::string& sysfs_dir, bool use_uio, std::string* error);
  ~SysfsPciDevice() override;

  uint32_t read32(uint32_t offset) override;
  void write32(uint32_t offset, uint32_t value) override;
  void wait(std::chrono::milliseconds timeout) override;
  bool has_interrupt() const { return uio_fd_ >= 0; }

 private:
  SysfsPciDevice() = default;
  void open_uio(const std::string& sysfs_dir);

  int bar_fd_ = -1;       // resource0
  unsigned io_base_ = 0;  // ioperm fallback when bar_fd_ < 0
  int uio_fd_ = -1;
};

}  // namespace kvpc::agent
