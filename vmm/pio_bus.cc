#include "vmm/pio_bus.h"

#include <cstring>
#include <type_traits>

#include <fmt/format.h>

namespace kvpc {

PioBus::PioBus() : slots_(static_cast<Slot*>(std::calloc(kPorts, sizeof(Slot)))) {
  // Slot is trivially constructible and all-zero means "unclaimed": calloc's zeroes are valid slots.
  static_assert(std::is_trivially_default_constructible_v<Slot>);
  if (!slots_) std::abort();  // 1 MiB at start-up: nothing sensible to do without it
}

Status PioBus::add(IoDevice* device, uint16_t base, uint32_t length) {
  const std::string name = device != nullptr ? std::string(device->name()) : "(null)";
  if (device == nullptr) return make_error("cannot register a null device on the port bus");
  if (frozen_) return make_error(fmt::format("{}: the port bus is frozen; devices are added before the VM runs", name));
  if (length == 0) return make_error(fmt::format("{}: port range at {:#x} has zero length", name, base));
  if (uint32_t{base} + length > kPorts) {
    return make_error(fmt::format("{}: port range {:#x}+{:#x} runs past port 0xffff", name, base, length));
  }
  for (uint32_t port = base; port < base + length; ++port) {
    if (slots_[port].device != nullptr) {
      return make_error(fmt::format("{}: port {:#x} is already claimed by {}", name, port, slots_[port].device->name()));
    }
  }
  const auto range = static_cast<uint16_t>(ranges_.size());
  for (uint32_t port = base; port < base + length; ++port) slots_[port] = Slot{device, base, range};
  ranges_.push_back(Range{device, base, length});
  return ok_status();
}

IoDevice* PioBus::read(uint16_t port, std::span<uint8_t> data) {
  std::memset(data.data(), 0xFF, data.size());
  const Slot& slot = slots_[port];
  if (slot.device == nullptr) {
    unclaimed_reads_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  slot.device->read(port - slot.base, data);
  return slot.device;
}

IoDevice* PioBus::write(uint16_t port, std::span<const uint8_t> data) {
  const Slot& slot = slots_[port];
  if (slot.device == nullptr) {
    unclaimed_writes_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  slot.device->write(port - slot.base, data);
  return slot.device;
}

}  // namespace kvpc
