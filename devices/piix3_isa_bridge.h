// Piix3IsaBridge: the PCI-to-ISA bridge function of Intel's PIIX3 (8086:7000) at 00:01.0.
//
// Firmware built for QEMU's i440FX machine looks for it to route PCI interrupts: the PIRQ
// route control registers 0x60-0x63 (PIRQA#-PIRQD#; bit 7 = routing disabled, bits 0-3 =
// the ISA IRQ) are stored as the guest writes them. The ELCR (ports 0x4D0/0x4D1), which the
// same firmware programs next, belongs to the interrupt controller: the emu accelerator's PIC
// model and KVM's in-kernel PIC implement it. kvpc's PCI devices drive the GSI the board
// gives them, and the board routes them to the IRQ SeaBIOS assigns by the standard swizzle
// (slot + pin - 1) mod 4 onto PIRQA-D (see docs/firmware.md).
// No BARs, no other functions (IDE, USB, ACPI are not emulated).
//
// Concurrency contract: state lives in the PciConfigSpace, which locks internally.
#pragma once

#include "devices/pci_config_space.h"
#include "devices/pci_device.h"

namespace kvpc {

class Piix3IsaBridge final : public PciDevice {
 public:
  static constexpr int kSlot = 1;
  static constexpr uint32_t kPirqRoute = 0x60;  // 0x60-0x63: PIRQA..PIRQD
  static constexpr uint8_t kRouteDisabled = 0x80;

  Piix3IsaBridge();

  // The ISA IRQ PIRQ `pirq` (0 = A .. 3 = D) is routed to, or -1 while routing is disabled.
  int pirq_irq(int pirq) const;

  std::string_view pci_name() const override { return "piix3-isa"; }
  PciConfigSpace& config() override { return config_; }
  IoDevice* bar_device(int) override { return nullptr; }

 private:
  PciConfigSpace config_;
};

}  // namespace kvpc
