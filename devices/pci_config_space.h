// PciConfigSpace: the 256-byte configuration space of one type-0 PCI function.
//
// A plain register model: a byte array plus a per-byte write mask, so the guest can only
// change what real hardware lets it change. BARs follow the sizing protocol: the address bits
// below the BAR's size and the type bits are read-only, so writing all ones and reading back
// yields ~(size - 1) | type, and a BAR of size 0 reads as 0 whatever is written.
//
// Concurrency contract: every method takes an internal mutex, so config cycles from vCPU
// threads (through PciHostBridge) and device-side reads (command(), from the event loop) may
// race freely. Nothing allocates after construction; no method throws.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>

namespace kvpc {

namespace pci {
inline constexpr uint32_t kConfigSize = 256;
inline constexpr uint32_t kVendorId = 0x00;
inline constexpr uint32_t kDeviceId = 0x02;
inline constexpr uint32_t kCommand = 0x04;
inline constexpr uint32_t kStatus = 0x06;
inline constexpr uint32_t kRevisionId = 0x08;
inline constexpr uint32_t kClassCode = 0x09;  // 3 bytes: prog-if, subclass, base class
inline constexpr uint32_t kHeaderType = 0x0E;
inline constexpr uint32_t kBar0 = 0x10;
inline constexpr uint32_t kSubsystemVendorId = 0x2C;
inline constexpr uint32_t kSubsystemId = 0x2E;
inline constexpr uint32_t kInterruptLine = 0x3C;
inline constexpr uint32_t kInterruptPin = 0x3D;
inline constexpr int kBarCount = 6;

inline constexpr uint16_t kCommandIo = 0x0001;
inline constexpr uint16_t kCommandMemory = 0x0002;
inline constexpr uint16_t kCommandBusMaster = 0x0004;
inline constexpr uint16_t kCommandInterruptDisable = 0x0400;
inline constexpr uint16_t kStatusInterrupt = 0x0008;
}  // namespace pci

struct PciIdentity {
  uint16_t vendor_id = 0xFFFF;
  uint16_t device_id = 0xFFFF;
  uint8_t revision = 0;
  uint32_t class_code = 0;  // base << 16 | subclass << 8 | prog-if
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint8_t interrupt_pin = 0;  // 0 none, 1 INTA# .. 4 INTD#
};

enum class PciBarKind { kIo, kMemory32, kMemory32Prefetchable };

class PciConfigSpace {
 public:
  explicit PciConfigSpace(const PciIdentity& identity);

  // Declares BAR `index` (size a power of two, >= 4 for I/O, >= 16 for memory; 0 = unused).
  // Returns false for a bad index or size. Set-up only.
  bool define_bar(int index, PciBarKind kind, uint32_t size);
  // What firmware would do: program the BAR address (host-side, ignores the write mask).
  void set_bar_address(int index, uint32_t address);
  // The BAR's current base address (type bits stripped), 0 for an unused BAR.
  uint32_t bar_address(int index) const;
  uint32_t bar_size(int index) const;

  // Config cycles. offset + data.size() beyond 256 reads 0xFF / drops the write for those bytes.
  void read(uint32_t offset, std::span<uint8_t> data) const;
  void write(uint32_t offset, std::span<const uint8_t> data);

  uint16_t command() const;
  void set_command(uint16_t command);  // host-side (direct boot enables I/O decoding itself)
  // Status bit 3 (interrupt status) mirrors the device's INTx level.
  void set_interrupt_status(bool asserted);
  // Set-up only: a device-specific register byte (offset >= 0x40, or the header type) with
  // its reset value and the bits the guest may change (chipset registers such as PAM).
  void define_register(uint32_t offset, uint8_t initial, uint8_t writable);
  // A device-specific byte as the guest last left it.
  uint8_t register_byte(uint32_t offset) const;
  uint8_t interrupt_line() const;
  void set_interrupt_line(uint8_t line);  // host-side: the GSI the board routes INTA# to

 private:
  uint16_t load16(uint32_t offset) const;
  void store16(uint32_t offset, uint16_t value);
  mutable std::mutex mutex_;
  std::array<uint8_t, pci::kConfigSize> bytes_{};
  std::array<uint8_t, pci::kConfigSize> write_mask_{};
  std::array<uint32_t, pci::kBarCount> bar_size_{};
};

}  // namespace kvpc
