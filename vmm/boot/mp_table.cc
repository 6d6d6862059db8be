#include "vmm/boot/mp_table.h"

#include <fmt/format.h>

#include "vmm/boot/byte_reader.h"

namespace kvpc {
namespace {

using boot::write_bytes;
using boot::write_u16;
using boot::write_u32;

constexpr uint8_t kSpecRevision14 = 4;
constexpr uint64_t kFloatingPointerBytes = 16;
constexpr uint64_t kConfigHeaderBytes = 44;

enum EntryType : uint8_t { kProcessor = 0, kBus = 1, kIoApic = 2, kIoInterrupt = 3, kLocalInterrupt = 4 };
enum InterruptType : uint8_t { kInt = 0, kNmi = 1, kExtInt = 3 };
// Interrupt entry flags: polarity in bits 0-1, trigger mode in bits 2-3 (0 = bus default).
constexpr uint16_t kConformsToBus = 0x0;
constexpr uint16_t kActiveLowLevel = 0x3 | (0x3 << 2);

constexpr uint8_t kPciBusId = 0;
constexpr uint8_t kIsaBusId = 1;
constexpr uint8_t kAllLocalApics = 0xFF;

uint8_t checksum_byte(const std::vector<uint8_t>& bytes, uint64_t begin, uint64_t end) {
  uint8_t sum = 0;
  for (uint64_t i = begin; i < end; ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
  return static_cast<uint8_t>(-sum);
}

class EntryWriter {
 public:
  EntryWriter(std::vector<uint8_t>& table, uint64_t start) : table_(table), offset_(start) {}

  void processor(uint8_t apic_id, bool bootstrap) {
    uint64_t o = begin(20);
    table_[o] = kProcessor;
    table_[o + 1] = apic_id;
    table_[o + 2] = 0x14;  // local APIC version (an integrated xAPIC)
    table_[o + 3] = static_cast<uint8_t>(0x1 | (bootstrap ? 0x2 : 0));  // enabled, BSP
    write_u32(table_, o + 4, 0x600);  // CPU signature: family 6; the kernel reads CPUID anyway
    write_u32(table_, o + 8, 0x201);  // features: FPU, APIC
  }
  void bus(uint8_t id, std::string_view type) {
    uint64_t o = begin(8);
    table_[o] = kBus;
    table_[o + 1] = id;
    write_bytes(table_, o + 2, type);
  }
  void ioapic(uint8_t id, uint32_t address) {
    uint64_t o = begin(8);
    table_[o] = kIoApic;
    table_[o + 1] = id;
    table_[o + 2] = 0x11;  // I/O APIC version
    table_[o + 3] = 0x1;   // enabled
    write_u32(table_, o + 4, address);
  }
  void interrupt(EntryType type, InterruptType kind, uint16_t flags, uint8_t bus, uint8_t bus_irq, uint8_t dest_id,
                 uint8_t dest_pin) {
    uint64_t o = begin(8);
    table_[o] = type;
    table_[o + 1] = kind;
    write_u16(table_, o + 2, flags);
    table_[o + 4] = bus;
    table_[o + 5] = bus_irq;
    table_[o + 6] = dest_id;
    table_[o + 7] = dest_pin;
  }
  uint16_t count() const { return count_; }
  uint64_t end() const { return offset_; }

 private:
  uint64_t begin(uint64_t size) {
    uint64_t o = offset_;
    table_.resize(o + size, 0);
    offset_ += size;
    ++count_;
    return o;
  }
  std::vector<uint8_t>& table_;
  uint64_t offset_;
  uint16_t count_ = 0;
};

}  // namespace

Result<std::vector<uint8_t>> build_mp_table(const MpTableDescription& d, uint32_t address) {
  if (d.cpus == 0 || d.cpus > 254) {
    return make_error(fmt::format("MP table: {} CPUs; between 1 and 254 fit (APIC ID 255 is broadcast)", d.cpus));
  }
  if (d.ioapic_address > UINT32_MAX) return make_error("MP table: the I/O APIC must sit below 4 GiB");
  for (const auto& route : d.pci_interrupts) {
    if (route.device > 31 || route.pin > 3 || route.gsi >= d.ioapic_pins) {
      return make_error(fmt::format("MP table: PCI interrupt of device {} pin {} to GSI {} is out of range",
                                    route.device, route.pin, route.gsi));
    }
  }
  std::vector<uint8_t> bytes(kFloatingPointerBytes + kConfigHeaderBytes, 0);
  const uint64_t table = kFloatingPointerBytes;
  const uint8_t ioapic_id = static_cast<uint8_t>(d.cpus);  // the first ID after the CPUs'

  EntryWriter entries(bytes, table + kConfigHeaderBytes);
  for (uint32_t cpu = 0; cpu < d.cpus; ++cpu) entries.processor(static_cast<uint8_t>(cpu), cpu == 0);
  entries.bus(kPciBusId, "PCI   ");
  entries.bus(kIsaBusId, "ISA   ");
  entries.ioapic(ioapic_id, static_cast<uint32_t>(d.ioapic_address));
  for (uint8_t irq = 0; irq < 16; ++irq) {
    if (irq == 2) continue;  // the 8259 cascade: never a device interrupt
    entries.interrupt(kIoInterrupt, kInt, kConformsToBus, kIsaBusId, irq, ioapic_id, irq);
  }
  for (const auto& route : d.pci_interrupts) {
    entries.interrupt(kIoInterrupt, kInt, kActiveLowLevel, kPciBusId, static_cast<uint8_t>(route.device << 2 | route.pin),
                      ioapic_id, route.gsi);
  }
  entries.interrupt(kLocalInterrupt, kExtInt, kConformsToBus, kIsaBusId, 0, kAllLocalApics, 0);
  entries.interrupt(kLocalInterrupt, kNmi, kConformsToBus, kIsaBusId, 0, kAllLocalApics, 1);

  write_bytes(bytes, table, "PCMP");
  write_u16(bytes, table + 4, static_cast<uint16_t>(entries.end() - table));
  bytes[table + 6] = kSpecRevision14;
  write_bytes(bytes, table + 8, "KVPC    ");
  write_bytes(bytes, table + 16, "KVPC PC     ");
  write_u16(bytes, table + 34, entries.count());
  write_u32(bytes, table + 36, static_cast<uint32_t>(kLocalApicDefaultAddress));
  bytes[table + 7] = checksum_byte(bytes, table, entries.end());

  write_bytes(bytes, 0, "_MP_");
  write_u32(bytes, 4, address + static_cast<uint32_t>(table));
  bytes[8] = 1;  // length in 16-byte paragraphs
  bytes[9] = kSpecRevision14;
  bytes[10] = checksum_byte(bytes, 0, kFloatingPointerBytes);
  return bytes;
}

Status write_mp_table(GuestMemory& memory, const MpTableDescription& description, uint64_t address) {
  if (address > UINT32_MAX) return make_error("MP table: must be placed below 4 GiB");
  auto bytes = build_mp_table(description, static_cast<uint32_t>(address));
  if (!bytes) return bytes.error();
  if (!memory.write(address, *bytes)) {
    return make_error(fmt::format("MP table: guest memory does not back [{:#x}, {:#x})", address,
                                  address + bytes->size()));
  }
  return ok_status();
}

}  // namespace kvpc
