#include "devices/pci_config_space.h"

#include <bit>

namespace kvpc {

using namespace pci;

PciConfigSpace::PciConfigSpace(const PciIdentity& identity) {
  store16(kVendorId, identity.vendor_id);
  store16(kDeviceId, identity.device_id);
  bytes_[kRevisionId] = identity.revision;
  bytes_[kClassCode] = static_cast<uint8_t>(identity.class_code);
  bytes_[kClassCode + 1] = static_cast<uint8_t>(identity.class_code >> 8);
  bytes_[kClassCode + 2] = static_cast<uint8_t>(identity.class_code >> 16);
  bytes_[kHeaderType] = 0x00;  // type 0, single function
  store16(kSubsystemVendorId, identity.subsystem_vendor_id);
  store16(kSubsystemId, identity.subsystem_id);
  bytes_[kInterruptPin] = identity.interrupt_pin;
  // Writable: command bits a simple function implements (I/O, memory, bus master, INTx
  // disable), and the interrupt line register (scratch for firmware). Everything else,
  // including the status register, is read-only: kvpc implements no W1C error bits.
  constexpr uint16_t command_mask = kCommandIo | kCommandMemory | kCommandBusMaster | kCommandInterruptDisable;
  write_mask_[kCommand] = static_cast<uint8_t>(command_mask);
  write_mask_[kCommand + 1] = static_cast<uint8_t>(command_mask >> 8);
  write_mask_[kInterruptLine] = 0xFF;
}

void PciConfigSpace::define_register(uint32_t offset, uint8_t initial, uint8_t writable) {
  if (offset >= kConfigSize) return;
  std::lock_guard lock(mutex_);
  bytes_[offset] = initial;
  write_mask_[offset] = writable;
}

uint8_t PciConfigSpace::register_byte(uint32_t offset) const {
  if (offset >= kConfigSize) return 0xFF;
  std::lock_guard lock(mutex_);
  return bytes_[offset];
}

bool PciConfigSpace::define_bar(int index, PciBarKind kind, uint32_t size) {
  if (index < 0 || index >= kBarCount) return false;
  uint32_t offset = kBar0 + 4 * static_cast<uint32_t>(index);
  std::lock_guard lock(mutex_);
  if (size == 0) {
    bar_size_[index] = 0;
    for (uint32_t i = 0; i < 4; ++i) bytes_[offset + i] = write_mask_[offset + i] = 0;
    return true;
  }
  uint32_t minimum = kind == PciBarKind::kIo ? 4 : 16;
  if (!std::has_single_bit(size) || size < minimum) return false;
  bar_size_[index] = size;
  // I/O: bit 0; memory: 32-bit, bit 3 = prefetchable (a framebuffer).
  uint32_t type_bits = kind == PciBarKind::kIo ? 0x1 : kind == PciBarKind::kMemory32Prefetchable ? 0x8 : 0x0;
  uint32_t mask = ~(size - 1);
  for (uint32_t i = 0; i < 4; ++i) {
    bytes_[offset + i] = static_cast<uint8_t>(type_bits >> (8 * i));
    write_mask_[offset + i] = static_cast<uint8_t>(mask >> (8 * i));
  }
  return true;
}

void PciConfigSpace::set_bar_address(int index, uint32_t address) {
  if (index < 0 || index >= kBarCount) return;
  uint32_t offset = kBar0 + 4 * static_cast<uint32_t>(index);
  std::lock_guard lock(mutex_);
  for (uint32_t i = 0; i < 4; ++i) {
    uint8_t mask = write_mask_[offset + i];
    bytes_[offset + i] = static_cast<uint8_t>((bytes_[offset + i] & ~mask) | ((address >> (8 * i)) & mask));
  }
}

uint32_t PciConfigSpace::bar_address(int index) const {
  if (index < 0 || index >= kBarCount) return 0;
  uint32_t offset = kBar0 + 4 * static_cast<uint32_t>(index);
  std::lock_guard lock(mutex_);
  if (bar_size_[index] == 0) return 0;
  uint32_t value = 0;
  for (uint32_t i = 0; i < 4; ++i) value |= uint32_t{bytes_[offset + i]} << (8 * i);
  return value & ~(bar_size_[index] - 1);
}

uint32_t PciConfigSpace::bar_size(int index) const {
  if (index < 0 || index >= kBarCount) return 0;
  std::lock_guard lock(mutex_);
  return bar_size_[index];
}

void PciConfigSpace::read(uint32_t offset, std::span<uint8_t> data) const {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = uint64_t{offset} + i;
    data[i] = at < kConfigSize ? bytes_[at] : uint8_t{0xFF};
  }
}

void PciConfigSpace::write(uint32_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = uint64_t{offset} + i;
    if (at >= kConfigSize) break;
    uint8_t mask = write_mask_[at];
    bytes_[at] = static_cast<uint8_t>((bytes_[at] & ~mask) | (data[i] & mask));
  }
}

uint16_t PciConfigSpace::load16(uint32_t offset) const {
  return static_cast<uint16_t>(bytes_[offset] | (bytes_[offset + 1] << 8));
}

void PciConfigSpace::store16(uint32_t offset, uint16_t value) {
  bytes_[offset] = static_cast<uint8_t>(value);
  bytes_[offset + 1] = static_cast<uint8_t>(value >> 8);
}

uint16_t PciConfigSpace::command() const {
  std::lock_guard lock(mutex_);
  return load16(kCommand);
}

void PciConfigSpace::set_command(uint16_t command) {
  std::lock_guard lock(mutex_);
  store16(kCommand, command);
}

void PciConfigSpace::set_interrupt_status(bool asserted) {
  std::lock_guard lock(mutex_);
  uint16_t status = load16(kStatus);
  status = asserted ? (status | kStatusInterrupt) : (status & ~kStatusInterrupt);
  store16(kStatus, status);
}

uint8_t PciConfigSpace::interrupt_line() const {
  std::lock_guard lock(mutex_);
  return bytes_[kInterruptLine];
}

void PciConfigSpace::set_interrupt_line(uint8_t line) {
  std::lock_guard lock(mutex_);
  bytes_[kInterruptLine] = line;
}

}  // namespace kvpc
