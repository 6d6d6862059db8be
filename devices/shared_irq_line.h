// SharedIrqLine: several level-triggered PCI INTx sources wired to one interrupt line.
//
// PCI INTx lines are shared and wired-OR: the line is high while any source holds it high.
// Each device gets its own input(i); the output follows the OR of the inputs, so one device
// lowering its input never hides another's pending interrupt.
//
// Concurrency contract: inputs may be driven from any thread; a mutex held for the update
// (no allocation, no blocking call except the output's set_level) keeps the OR exact.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "vmm/irq_line.h"

namespace kvpc {

class SharedIrqLine {
 public:
  SharedIrqLine(IrqLine& output, uint32_t inputs) : output_(output) {
    for (uint32_t i = 0; i < inputs && i < 32; ++i) inputs_.push_back(std::make_unique<Input>(*this, i));
  }
  IrqLine& input(uint32_t index) { return *inputs_.at(index); }
  bool level() const {
    std::lock_guard lock(mutex_);
    return asserted_ != 0;
  }

 private:
  class Input final : public IrqLine {
   public:
    Input(SharedIrqLine& line, uint32_t index) : line_(line), bit_(1u << index) {}
    void set_level(bool asserted) override { line_.drive(bit_, asserted); }

   private:
    SharedIrqLine& line_;
    uint32_t bit_;
  };

  void drive(uint32_t bit, bool asserted) {
    std::lock_guard lock(mutex_);
    uint32_t before = asserted_;
    asserted_ = asserted ? (asserted_ | bit) : (asserted_ & ~bit);
    if ((before != 0) != (asserted_ != 0)) output_.set_level(asserted_ != 0);
  }

  IrqLine& output_;
  mutable std::mutex mutex_;
  uint32_t asserted_ = 0;
  std::vector<std::unique_ptr<Input>> inputs_;
};

}  // namespace kvpc
