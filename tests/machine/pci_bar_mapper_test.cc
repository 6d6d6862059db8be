// PCI BAR programming as firmware does it, through the host bridge's config cycles:
// sizing, relocation (port range and doorbell ioeventfd move), decode disable/enable,
// conflicts, and the PIIX3 INTx swizzle (PciIntxLines).
#include "vmm/machine/pci_bar_mapper.h"

#include <gtest/gtest.h>

#include <array>
#include <tuple>

#include "devices/pci_host_bridge.h"
#include "devices/piix3_isa_bridge.h"
#include "vmm/io_device.h"
#include "vmm/machine/pci_intx_lines.h"

namespace kvpc {
namespace {

class FakeBackend final : public VmBackend {
 public:
  using Fd = std::tuple<uint64_t, uint32_t, int>;
  std::string_view accelerator() const override { return "test"; }
  Status map_memory(const GuestMemory&) override { return ok_status(); }
  Result<std::unique_ptr<VcpuBackend>> create_vcpu(uint32_t) override { return make_error("none"); }
  Status fetch_dirty_log(const MemoryRegion&, std::span<uint64_t>) override { return make_error("none"); }
  void set_irq(uint32_t gsi, bool asserted) override { irqs.emplace_back(gsi, asserted); }
  Status add_ioeventfd(IoSpace space, uint64_t address, uint32_t length, int fd, std::optional<uint64_t>) override {
    EXPECT_EQ(space, IoSpace::kPort);
    live.emplace_back(address, length, fd);
    return ok_status();
  }
  Status remove_ioeventfd(IoSpace, uint64_t address, uint32_t length, int fd, std::optional<uint64_t>) override {
    for (auto it = live.begin(); it != live.end(); ++it) {
      if (*it == Fd{address, length, fd}) {
        live.erase(it);
        return ok_status();
      }
    }
    return make_error("no such ioeventfd");
  }
  std::vector<Fd> live;
  std::vector<std::pair<uint32_t, bool>> irqs;
};

class Registers final : public IoDevice {
 public:
  std::string_view name() const override { return "regs"; }
  void read(uint64_t offset, std::span<uint8_t> data) override {
    for (auto& b : data) b = static_cast<uint8_t>(offset);
  }
  void write(uint64_t, std::span<const uint8_t>) override {}
};

class FakeFunction final : public PciDevice {
 public:
  FakeFunction() : config_(identity()) { config_.define_bar(0, PciBarKind::kIo, 64); }
  std::string_view pci_name() const override { return "fake"; }
  PciConfigSpace& config() override { return config_; }
  IoDevice* bar_device(int index) override { return index == 0 ? &regs : nullptr; }
  Registers regs;

 private:
  static PciIdentity identity() {
    PciIdentity id;
    id.vendor_id = 0x1AF4;
    id.device_id = 0x1001;
    return id;
  }
  PciConfigSpace config_;
};

constexpr int kDoorbellFd = 42;

struct Rig {
  Rig() : mapper(pio, backend) { bridge.set_observer(&mapper); }
  uint32_t config_read(int slot, uint32_t reg) {
    select(slot, reg);
    std::array<uint8_t, 4> v{};
    bridge.read(4, v);
    return load_le(v);
  }
  void config_write(int slot, uint32_t reg, uint32_t value, size_t size = 4) {
    select(slot, reg);
    std::array<uint8_t, 4> v{};
    store_le(v, value);
    bridge.write(4 + (reg & 3), std::span<const uint8_t>(v).first(size));
  }
  void select(int slot, uint32_t reg) {
    std::array<uint8_t, 4> a{};
    store_le(a, PciHostBridge::kEnableBit | static_cast<uint32_t>(slot) << 11 | (reg & 0xFC));
    bridge.write(0, a);
  }
  // Attaches `f` at `slot`, decoding at `base` (0: left unassigned, as after reset).
  void attach(FakeFunction& f, int slot, uint16_t base) {
    if (base != 0) {
      f.config().set_bar_address(0, base);
      f.config().set_command(pci::kCommandIo);
    }
    ASSERT_TRUE(bridge.attach(slot, f));
    ASSERT_TRUE(mapper.manage(f, {{0, 0x10, 2, kDoorbellFd + slot}}).ok());
  }
  PioBus pio;
  FakeBackend backend;
  PciHostBridge bridge;
  PciBarMapper mapper;
};

TEST(PciBarMapper, SizingReadsTheSizeMaskAndStopsDecodingUntilRestored) {
  Rig rig;
  FakeFunction f;
  rig.attach(f, 4, 0xC100);
  rig.pio.freeze();  // the VM runs: moves must still work
  EXPECT_EQ(rig.pio.device_at(0xC100), &f.regs);
  rig.config_write(4, pci::kBar0, 0xFFFFFFFF);
  EXPECT_EQ(rig.config_read(4, pci::kBar0), 0xFFFFFFC1u) << "~(64 - 1) | I/O type bit";
  EXPECT_EQ(rig.pio.device_at(0xC100), nullptr) << "a sized BAR (base above 0xffff) decodes nothing";
  EXPECT_TRUE(rig.backend.live.empty());
  rig.config_write(4, pci::kBar0, 0xC100);
  EXPECT_EQ(rig.config_read(4, pci::kBar0), 0xC101u);
  EXPECT_EQ(rig.pio.device_at(0xC13F), &f.regs);
  EXPECT_EQ(rig.backend.live, (std::vector<FakeBackend::Fd>{{0xC110, 2, kDoorbellFd + 4}}));
}

TEST(PciBarMapper, RelocationMovesPortsAndDoorbell) {
  Rig rig;
  FakeFunction f;
  rig.attach(f, 4, 0xC100);
  rig.pio.freeze();
  ASSERT_EQ(rig.backend.live, (std::vector<FakeBackend::Fd>{{0xC110, 2, kDoorbellFd + 4}}));
  rig.config_write(4, pci::kBar0, 0xC040);
  EXPECT_EQ(rig.pio.device_at(0xC100), nullptr);
  EXPECT_EQ(rig.pio.device_at(0xC040), &f.regs);
  EXPECT_EQ(rig.pio.device_at(0xC07F), &f.regs);
  EXPECT_EQ(rig.pio.device_at(0xC080), nullptr);
  std::array<uint8_t, 1> byte{};
  rig.pio.read(0xC045, byte);
  EXPECT_EQ(byte[0], 5) << "the device sees offsets from its new base";
  EXPECT_EQ(rig.backend.live, (std::vector<FakeBackend::Fd>{{0xC050, 2, kDoorbellFd + 4}}));
  EXPECT_EQ(rig.mapper.mapped_base(f, 0), std::optional<uint16_t>(0xC040));
  // A 16-bit write of the low half moves it too (firmware may use any width).
  rig.config_write(4, pci::kBar0, 0xD000, 2);
  EXPECT_EQ(rig.pio.device_at(0xD000), &f.regs);
  EXPECT_EQ(rig.pio.device_at(0xC040), nullptr);
  EXPECT_EQ(rig.backend.live, (std::vector<FakeBackend::Fd>{{0xD010, 2, kDoorbellFd + 4}}));
}

TEST(PciBarMapper, CommandRegisterIoBitGatesDecoding) {
  Rig rig;
  FakeFunction f;
  rig.attach(f, 5, 0);  // reset state, as under --bios
  EXPECT_EQ(rig.pio.ranges().size(), 0u) << "BAR 0 and decoding off: nothing mapped";
  rig.config_write(5, pci::kBar0, 0xC080);
  EXPECT_EQ(rig.pio.device_at(0xC080), nullptr) << "I/O decoding still disabled";
  EXPECT_TRUE(rig.backend.live.empty());
  rig.config_write(5, pci::kCommand, pci::kCommandIo, 2);
  EXPECT_EQ(rig.pio.device_at(0xC080), &f.regs);
  EXPECT_EQ(rig.backend.live.size(), 1u);
  rig.config_write(5, pci::kCommand, pci::kCommandMemory, 2);  // memory on, I/O off
  EXPECT_EQ(rig.pio.device_at(0xC080), nullptr);
  EXPECT_TRUE(rig.backend.live.empty()) << "the doorbell goes with the range";
  rig.config_write(5, pci::kCommand, pci::kCommandIo | pci::kCommandBusMaster, 2);
  EXPECT_EQ(rig.pio.device_at(0xC080), &f.regs);
  EXPECT_EQ(rig.backend.live, (std::vector<FakeBackend::Fd>{{0xC090, 2, kDoorbellFd + 5}}));
}

TEST(PciBarMapper, MoveOntoAnotherDevicesPortsIsRefusedThenRetried) {
  Rig rig;
  FakeFunction a, b;
  rig.attach(a, 4, 0xC100);
  rig.attach(b, 5, 0xC140);
  rig.pio.freeze();
  rig.config_write(5, pci::kBar0, 0xC100);  // b onto a's ports
  EXPECT_EQ(rig.pio.device_at(0xC100), &a.regs) << "the device already there keeps its ports";
  EXPECT_EQ(rig.pio.device_at(0xC140), nullptr) << "b left its old ports";
  EXPECT_EQ(rig.mapper.mapped_base(b, 0), std::nullopt);
  EXPECT_EQ(rig.mapper.pending_count(), 1u);
  EXPECT_EQ(rig.backend.live, (std::vector<FakeBackend::Fd>{{0xC110, 2, kDoorbellFd + 4}}));
  rig.config_write(4, pci::kBar0, 0xC000);  // a moves away: b's pending BAR now maps
  EXPECT_EQ(rig.pio.device_at(0xC000), &a.regs);
  EXPECT_EQ(rig.pio.device_at(0xC100), &b.regs);
  EXPECT_EQ(rig.mapper.pending_count(), 0u);
  EXPECT_EQ(rig.backend.live.size(), 2u);
}

TEST(PciBarMapper, BarOverlappingAFixedDeviceIsRefused) {
  Rig rig;
  Registers uart;
  ASSERT_TRUE(rig.pio.add(&uart, 0x3F8, 8).ok());
  FakeFunction f;
  rig.attach(f, 4, 0xC100);
  rig.config_write(4, pci::kBar0, 0x3C0);  // 0x3C0-0x3FF covers COM1
  EXPECT_EQ(rig.pio.device_at(0x3F8), &uart);
  EXPECT_EQ(rig.pio.device_at(0x3C0), nullptr);
  EXPECT_EQ(rig.mapper.pending_count(), 1u);
}

TEST(PciIntxLines, SwizzleAndRoutingAsSeaBiosComputesThem) {
  FakeBackend vm;
  Piix3IsaBridge piix3;
  PciIntxLines lines(vm, piix3);
  EXPECT_EQ(PciIntxLines::pirq_for_slot(2), 1);  // integration device: PIRQB
  EXPECT_EQ(PciIntxLines::pirq_for_slot(4), 3);  // disk 0: PIRQD
  EXPECT_EQ(PciIntxLines::pirq_for_slot(5), 0);  // disk 1: PIRQA
  auto disk1 = lines.input_for(5);
  auto disk0 = lines.input_for(4);
  auto other = lines.input_for(8);  // also PIRQD: wired-OR with disk0
  ASSERT_TRUE(disk1.ok() && disk0.ok() && other.ok());
  (*disk1)->set_level(true);
  EXPECT_EQ(vm.irqs.back(), std::make_pair(10u, true)) << "unrouted PIRQA drives GSI 10";
  (*disk1)->set_level(false);
  (*disk0)->set_level(true);
  EXPECT_EQ(vm.irqs.back(), std::make_pair(11u, true)) << "unrouted PIRQD drives GSI 11";
  (*disk0)->set_level(false);
  std::array<uint8_t, 1> irq5{5};
  piix3.config().write(0x63, irq5);  // firmware routes PIRQD to IRQ 5
  (*disk0)->set_level(true);
  EXPECT_EQ(vm.irqs.back(), std::make_pair(5u, true));
  (*other)->set_level(true);
  (*disk0)->set_level(false);
  EXPECT_EQ(vm.irqs.back(), std::make_pair(5u, true)) << "the other function still holds the line";
  (*other)->set_level(false);
  EXPECT_EQ(vm.irqs.back(), std::make_pair(5u, false));
  EXPECT_FALSE(lines.input_for(0).ok());
}

}  // namespace
}  // namespace kvpc
