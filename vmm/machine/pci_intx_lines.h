// PciIntxLines: the board's PCI INTA# wiring — every function's pin reaches one of PIIX3's
// PIRQA-D by the PIIX swizzle, and each PIRQ drives the ISA IRQ the guest routed it to.
//
// Swizzle (as SeaBIOS and QEMU's PIIX3 compute it): INTx pin p (1 = INTA#) of the function in
// slot s reaches PIRQ (s - 1 + p - 1) mod 4. SeaBIOS routes PIRQA-D to IRQ 10, 10, 11, 11 and
// writes that IRQ into each function's interrupt-line register; kvpc follows the route
// registers (PirqIrqLine), so a guest OS reading the interrupt-line register listens on the
// IRQ that fires. Before anything routes a PIRQ (direct boot) it drives the same 10, 10, 11,
// 11, which the board also writes into the interrupt-line registers and the MP table.
//
// Several functions on one PIRQ are wired-OR (SharedIrqLine): one lowering its pin never
// hides another's pending interrupt.
//
// Concurrency contract: input_for() is set-up only; the returned lines are driven from any
// thread (SharedIrqLine and PirqIrqLine lock internally).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "devices/piix3_isa_bridge.h"
#include "devices/shared_irq_line.h"
#include "vmm/machine/pc_platform.h"
#include "vmm/result.h"
#include "vmm/vm_backend.h"

namespace kvpc {

class PciIntxLines {
 public:
  static constexpr uint32_t kInputsPerPirq = 16;
  static constexpr std::array<uint32_t, 4> kUnroutedGsi = {10, 10, 11, 11};

  static constexpr int pirq_for_slot(int slot) { return (slot - 1) & 3; }  // INTA#
  static constexpr uint32_t unrouted_gsi(int slot) { return kUnroutedGsi[static_cast<size_t>(pirq_for_slot(slot))]; }

  PciIntxLines(VmBackend& backend, const Piix3IsaBridge& piix3);

  // A fresh input for INTA# of the function in `slot` (1..31).
  Result<IrqLine*> input_for(int slot);

 private:
  std::array<std::unique_ptr<PirqIrqLine>, 4> pirqs_;
  std::array<std::unique_ptr<SharedIrqLine>, 4> shared_;
  std::array<uint32_t, 4> used_{};
};

}  // namespace kvpc
