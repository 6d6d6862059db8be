// The Intel MultiProcessor Specification 1.4 tables: how a guest kernel without ACPI learns
// its processors, its I/O APIC and how ISA and PCI interrupts reach the I/O APIC's pins.
//
// kvpc writes them for Linux direct boot. The routing must match what the platform really
// does, or the kernel waits for interrupts on the wrong pin: KVM's default GSI routing sends
// GSI n to I/O APIC pin n (and to the 8259s for n < 16), so ISA IRQs map to the pin of the
// same number and each PCI function's INTx to the GSI the board gave it. The 8259s are
// reached as ExtINT through each local APIC's LINT0 (virtual wire mode), NMI through LINT1.
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace kvpc {

inline constexpr uint64_t kIoApicDefaultAddress = 0xFEC00000;
inline constexpr uint64_t kLocalApicDefaultAddress = 0xFEE00000;
// The BIOS read-only area the MP specification lets the OS search; reserved in kvpc's e820,
// so the kernel never reuses it as RAM.
inline constexpr uint64_t kMpTableAddress = 0xF0000;

struct MpPciInterrupt {
  uint8_t device = 0;  // PCI device number on bus 0 (0-31)
  uint8_t pin = 0;     // 0 = INTA# ... 3 = INTD#
  uint8_t gsi = 0;     // I/O APIC input it is wired to (level-triggered, active low)
};

struct MpTableDescription {
  uint32_t cpus = 1;  // local APIC IDs 0..cpus-1, the first one the bootstrap processor
  uint64_t ioapic_address = kIoApicDefaultAddress;
  uint8_t ioapic_pins = 24;
  std::vector<MpPciInterrupt> pci_interrupts;
};

// The floating pointer structure followed by the configuration table, as they sit in guest
// memory at `address` (which becomes the table's physical pointer). Checksums included.
// Fails for 0 or more than 254 CPUs, a PCI device > 31, a pin > 3, a GSI past the I/O APIC.
Result<std::vector<uint8_t>> build_mp_table(const MpTableDescription& description, uint32_t address);

// build_mp_table() written into guest memory at `address` (which must be backed).
Status write_mp_table(GuestMemory& memory, const MpTableDescription& description,
                      uint64_t address = kMpTableAddress);

}  // namespace kvpc
