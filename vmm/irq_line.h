// IrqLine: how a device raises an interrupt without knowing who delivers it.
//
// On KVM the line is a GSI of the in-kernel PIC/IOAPIC (KVM_IRQ_LINE); in unit tests it
// is a recording fake. set_level() may be called from any thread and must not allocate.
#pragma once

#include <cstdint>

namespace kvpc {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  virtual void set_level(bool asserted) = 0;
  // Edge-triggered convenience: raise then lower.
  void pulse() {
    set_level(true);
    set_level(false);
  }
};

// A line that goes nowhere, for devices built without an interrupt.
class NullIrqLine final : public IrqLine {
 public:
  void set_level(bool) override {}
};

}  // namespace kvpc
