#include "vmm/machine/pci_intx_lines.h"

#include <fmt/format.h>

namespace kvpc {

PciIntxLines::PciIntxLines(VmBackend& backend, const Piix3IsaBridge& piix3) {
  for (size_t pirq = 0; pirq < 4; ++pirq) {
    pirqs_[pirq] = std::make_unique<PirqIrqLine>(backend, piix3, static_cast<int>(pirq), kUnroutedGsi[pirq]);
    shared_[pirq] = std::make_unique<SharedIrqLine>(*pirqs_[pirq], kInputsPerPirq);
  }
}

Result<IrqLine*> PciIntxLines::input_for(int slot) {
  if (slot <= 0 || slot >= 32) return make_error(fmt::format("PCI slot {} has no INTx wiring", slot));
  const auto pirq = static_cast<size_t>(pirq_for_slot(slot));
  if (used_[pirq] >= kInputsPerPirq) return make_error(fmt::format("PIRQ{} has no free input", "ABCD"[pirq]));
  return &shared_[pirq]->input(used_[pirq]++);
}

}  // namespace kvpc
