// PCI enumeration through configuration mechanism #1 finds the integration device as firmware would.
#include <gtest/gtest.h>

#include "devices/pci_host_bridge.h"
#include "tests/unit/integration/fake_guest.h"

namespace kvpc::testing {
namespace {

class PciEnumeration : public ::testing::Test {
 protected:
  PciEnumeration() : memory(make_memory()), device(memory, irq) {
    bridge.attach(5, device);
    device.config().set_interrupt_line(10);
  }
  uint32_t address(int slot, uint32_t reg, int function = 0, int bus = 0) {
    return PciHostBridge::kEnableBit | uint32_t(bus) << 16 | uint32_t(slot) << 11 | uint32_t(function) << 8 | reg;
  }
  uint32_t read32(int slot, uint32_t reg, int function = 0, int bus = 0) {
    out32(0, address(slot, reg, function, bus));
    return in(4 + (reg & 3), 4);
  }
  void write32(int slot, uint32_t reg, uint32_t value) {
    out32(0, address(slot, reg));
    uint8_t data[4];
    store_le(data, value);
    bridge.write(4, data);
  }
  void out32(uint64_t offset, uint32_t value) {
    uint8_t data[4];
    store_le(data, value);
    bridge.write(offset, data);
  }
  uint32_t in(uint64_t offset, size_t size) {
    uint8_t data[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    bridge.read(offset, std::span<uint8_t>(data, size));
    return static_cast<uint32_t>(load_le(std::span<const uint8_t>(data, size)));
  }

  GuestMemory memory;
  NullIrqLine irq;
  IntegrationDevice device;
  PciHostBridge bridge;
};

TEST_F(PciEnumeration, ScanOfBusZeroFindsHostBridgeAndIntegrationDevice) {
  std::vector<std::pair<int, uint32_t>> found;
  for (int slot = 0; slot < 32; ++slot) {
    uint32_t id = read32(slot, 0);
    if (id != 0xFFFFFFFF) found.emplace_back(slot, id);
  }
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], std::make_pair(0, 0x12378086u));
  EXPECT_EQ(found[1], std::make_pair(5, 0x49436B76u));
  EXPECT_EQ(read32(0, 0x08) >> 8, 0x060000u);  // host bridge class
}

TEST_F(PciEnumeration, IntegrationDeviceIdentity) {
  EXPECT_EQ(read32(5, 0x08), 0x08800001u);       // class 08/80/00, revision 1
  EXPECT_EQ(read32(5, 0x0C) >> 16 & 0x7F, 0u);   // header type 0
  EXPECT_EQ(read32(5, 0x2C), 0x00016B76u);       // subsystem
  EXPECT_EQ(read32(5, 0x3C) & 0xFFFF, 0x010Au);  // pin INTA#, line 10
}

TEST_F(PciEnumeration, Bar0SizesAs64IoPortsAndBar1IsAbsent) {
  EXPECT_EQ(read32(5, 0x10) & 1, 1u);  // I/O BAR
  write32(5, 0x10, 0xFFFFFFFF);
  uint32_t sized = read32(5, 0x10);
  EXPECT_EQ(~(sized & ~0x3u) + 1, 64u);
  write32(5, 0x10, 0xC000);
  EXPECT_EQ(read32(5, 0x10), 0xC001u);
  EXPECT_EQ(device.config().bar_address(0), 0xC000u);
  write32(5, 0x14, 0xFFFFFFFF);
  EXPECT_EQ(read32(5, 0x14), 0u);
}

TEST_F(PciEnumeration, CommandRegisterKeepsOnlyImplementedBits) {
  write32(5, 0x04, 0xFFFFFFFF);
  EXPECT_EQ(read32(5, 0x04) & 0xFFFF, 0x0407u);
  write32(5, 0x00, 0);  // IDs are read-only
  EXPECT_EQ(read32(5, 0x00), 0x49436B76u);
}

TEST_F(PciEnumeration, ByteAndWordAccessesUseTheLowAddressBits) {
  out32(0, address(5, 0x00));
  EXPECT_EQ(in(4, 2), 0x6B76u);
  EXPECT_EQ(in(6, 2), 0x4943u);
  EXPECT_EQ(in(7, 1), 0x49u);
  out32(0, address(5, 0x3C));
  EXPECT_EQ(in(5, 1), 0x01u);  // interrupt pin at 0x3D
}

TEST_F(PciEnumeration, AbsentFunctionsOtherBusesAndDisabledCyclesReadAllOnes) {
  EXPECT_EQ(read32(5, 0, 1), 0xFFFFFFFFu);
  EXPECT_EQ(read32(5, 0, 0, 1), 0xFFFFFFFFu);
  EXPECT_EQ(read32(7, 0), 0xFFFFFFFFu);
  out32(0, address(5, 0) & ~PciHostBridge::kEnableBit);
  EXPECT_EQ(in(4, 4), 0xFFFFFFFFu);
  EXPECT_EQ(in(0, 1), 0xFFu);  // only dword accesses reach CONFIG_ADDRESS
  out32(0, 0x80002803);
  EXPECT_EQ(in(0, 4), 0x80002800u);
}

TEST_F(PciEnumeration, AttachRejectsBridgeSlotAndDuplicates) {
  EXPECT_FALSE(bridge.attach(0, device));
  EXPECT_FALSE(bridge.attach(5, device));
  EXPECT_FALSE(bridge.attach(32, device));
  EXPECT_TRUE(bridge.attach(6, device));
}

TEST(PciConfigSpace, MemoryBarSizingAndBadDefinitions) {
  PciConfigSpace config(PciIdentity{});
  EXPECT_FALSE(config.define_bar(0, PciBarKind::kMemory32, 8));
  EXPECT_FALSE(config.define_bar(0, PciBarKind::kIo, 48));
  EXPECT_FALSE(config.define_bar(6, PciBarKind::kIo, 16));
  ASSERT_TRUE(config.define_bar(2, PciBarKind::kMemory32, 0x1000));
  uint8_t ones[4] = {0xFF, 0xFF, 0xFF, 0xFF};
  config.write(0x18, ones);
  uint8_t back[4];
  config.read(0x18, back);
  EXPECT_EQ(load_le(back), 0xFFFFF000u);
  uint8_t past[4];
  config.read(254, past);
  EXPECT_EQ(past[2], 0xFF);
}

}  // namespace
}  // namespace kvpc::testing
