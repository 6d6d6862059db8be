// PciHostBridge: PCI configuration mechanism #1 on ports 0xCF8-0xCFF, bus 0 only.
//
// Register it for 8 ports at 0xCF8. Offset 0 is CONFIG_ADDRESS (dword accesses only; byte and
// word accesses there read all ones and are dropped, as on chipsets where 0xCF9 is something
// else). Offsets 4-7 are CONFIG_DATA: an access of n bytes at 0xCFC + k reaches register
// (CONFIG_ADDRESS & 0xFC) + k of the selected function. With the enable bit (31) clear, on a
// bus other than 0, a function other than 0, or an empty slot, reads return all ones and
// writes are dropped, which is how firmware recognises "nothing here".
//
// The bridge itself is 00:00.0 with Intel 440FX IDs (8086:1237, class 0x060000, subsystem
// 1af4:1100 as under QEMU) so firmware
// that looks for a known host bridge finds one, with the PAM (0x59-0x5F) and SMRAM (0x72)
// registers SeaBIOS programs; they are stored and read back (see docs/firmware.md: the BIOS
// area is always RAM in kvpc). Devices sit at 00:NN.0, NN = 1..31.
//
// Concurrency contract: attach() is set-up only. read()/write() may run on several vCPU
// threads; CONFIG_ADDRESS is one machine-wide register (as in hardware), so an address write
// and the data access that follows are serialised by a mutex held for one access only.
// Guests that touch config space from two CPUs at once must lock, exactly as on real hardware.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "devices/pci_config_space.h"
#include "devices/pci_device.h"
#include "vmm/io_device.h"

namespace kvpc {

class PciHostBridge final : public IoDevice, public PciDevice {
 public:
  static constexpr uint16_t kBasePort = 0xCF8;
  static constexpr uint32_t kPortCount = 8;
  static constexpr int kSlots = 32;
  static constexpr uint32_t kEnableBit = 0x80000000u;
  static constexpr uint32_t kPam0 = 0x59;   // i440FX PAM0..PAM6 at 0x59..0x5F
  static constexpr uint32_t kSmram = 0x72;  // i440FX SMRAM control

  PciHostBridge();

  // Puts `device` at 00:slot.0. Fails (false) for slot 0 (the bridge), slot >= 32 or a taken slot.
  bool attach(int slot, PciDevice& device);
  PciDevice* device_at(int slot) const;
  // Set-up only: who hears about config writes (nullptr: nobody).
  void set_observer(PciConfigObserver* observer) { observer_ = observer; }

  // IoDevice
  std::string_view name() const override { return "pci-host-bridge"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  // CONFIG_ADDRESS and every function's 256-byte config space with its BARs.
  void describe(StateWriter& out) override;

  // PciDevice (the bridge's own function 00:00.0)
  std::string_view pci_name() const override { return "i440fx-host"; }
  PciConfigSpace& config() override { return config_; }
  IoDevice* bar_device(int) override { return nullptr; }

 private:
  // The function CONFIG_ADDRESS selects, or nullptr for "nothing there". Lock held.
  PciConfigSpace* selected() const;

  std::mutex mutex_;  // guards address_ (and orders config cycles machine-wide)
  uint32_t address_ = 0;
  PciConfigSpace config_;
  std::array<PciDevice*, kSlots> slots_{};
  PciConfigObserver* observer_ = nullptr;
};

}  // namespace kvpc
