#include "devices/piix3_isa_bridge.h"

namespace kvpc {
namespace {
PciIdentity piix3_identity() {
  PciIdentity id;
  id.vendor_id = 0x8086;
  id.device_id = 0x7000;
  id.class_code = 0x060100;  // bridge, ISA
  return id;
}
}  // namespace

Piix3IsaBridge::Piix3IsaBridge() : config_(piix3_identity()) {
  // An ISA bridge always decodes I/O and memory and can master (DMA).
  config_.set_command(pci::kCommandIo | pci::kCommandMemory | pci::kCommandBusMaster);
  for (uint32_t r = 0; r < 4; ++r) config_.define_register(kPirqRoute + r, kRouteDisabled, 0x8F);
}

int Piix3IsaBridge::pirq_irq(int pirq) const {
  if (pirq < 0 || pirq > 3) return -1;
  const uint8_t v = config_.register_byte(kPirqRoute + static_cast<uint32_t>(pirq));
  if (v & kRouteDisabled) return -1;
  return v & 0x0F;
}

}  // namespace kvpc
