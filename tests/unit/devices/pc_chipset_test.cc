// i440FX PAM/SMRAM registers and the PIIX3 ISA bridge's PIRQ routing, through config cycles.
#include <gtest/gtest.h>

#include <map>

#include "devices/pci_host_bridge.h"
#include "devices/piix3_isa_bridge.h"
#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::read_port;
using testing::write_port;

uint32_t config_read(PciHostBridge& pci, int slot, uint32_t reg, size_t width) {
  write_port(pci, 0, 0x80000000u | (static_cast<uint32_t>(slot) << 11) | (reg & 0xFC), 4);
  return static_cast<uint32_t>(read_port(pci, 4 + (reg & 3), width));
}
void config_write(PciHostBridge& pci, int slot, uint32_t reg, uint32_t value, size_t width) {
  write_port(pci, 0, 0x80000000u | (static_cast<uint32_t>(slot) << 11) | (reg & 0xFC), 4);
  write_port(pci, 4 + (reg & 3), value, width);
}

TEST(PcChipset, HostBridgePamRegistersStoreTheirWritableBits) {
  PciHostBridge pci;
  EXPECT_EQ(config_read(pci, 0, 0x00, 4), 0x12378086u);
  EXPECT_EQ(config_read(pci, 0, 0x59, 1), 0u);
  // SeaBIOS make_bios_writable: dword writes of 0x30 / 0x33 patterns around PAM0.
  config_write(pci, 0, 0x58, 0x33333000u | 0xFF, 4);
  EXPECT_EQ(config_read(pci, 0, 0x59, 1), 0x30u) << "PAM0 has only the F0000 nibble";
  EXPECT_EQ(config_read(pci, 0, 0x5A, 1), 0x33u);
  EXPECT_EQ(config_read(pci, 0, 0x58, 1), 0u) << "0x58 is not writable";
  config_write(pci, 0, 0x5C, 0xFFFFFFFFu, 4);
  EXPECT_EQ(config_read(pci, 0, 0x5F, 1), 0x33u);
  EXPECT_EQ(config_read(pci, 0, 0x72, 1), 0x02u) << "SMRAM C_BASE_SEG";
  config_write(pci, 0, 0x72, 0xFF, 1);
  EXPECT_EQ(config_read(pci, 0, 0x72, 1), 0x7Au);
}

TEST(PcChipset, Piix3IsFoundAt01AndStoresPirqRoutes) {
  PciHostBridge pci;
  Piix3IsaBridge piix3;
  ASSERT_TRUE(pci.attach(Piix3IsaBridge::kSlot, piix3));
  EXPECT_EQ(config_read(pci, 1, 0x00, 4), 0x70008086u);
  EXPECT_EQ(config_read(pci, 1, 0x0A, 2), 0x0601u) << "ISA bridge class";
  EXPECT_EQ(config_read(pci, 1, 0x60, 4), 0x80808080u) << "routing disabled at reset";
  EXPECT_EQ(piix3.pirq_irq(0), -1);
  config_write(pci, 1, 0x60, 0x0B0B0A0Au, 4);  // SeaBIOS: A,B -> 10, C,D -> 11
  EXPECT_EQ(piix3.pirq_irq(0), 10);
  EXPECT_EQ(piix3.pirq_irq(2), 11);
  config_write(pci, 1, 0x63, 0xFF, 1);
  EXPECT_EQ(config_read(pci, 1, 0x63, 1), 0x8Fu);
  EXPECT_EQ(piix3.pirq_irq(3), -1);
  EXPECT_EQ(piix3.pirq_irq(4), -1);
}

}  // namespace
}  // namespace kvpc
