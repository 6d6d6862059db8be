// PcPlatform's firmware-facing contents: the fw_cfg items and files, the CMOS memory-size
// bytes, and PCI INTx routing through PIIX3 PIRQ registers (PirqIrqLine).
#include "vmm/machine/pc_platform.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::RecordingIrqLine;

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

TEST(PcPlatform, KvpcItemsDescribeRamCpusE820AndTheSerialConsole) {
  FwCfg fw;
  ASSERT_TRUE(fill_fw_cfg(fw, 5ULL << 30, 2).ok());  // 5 GiB: 3 GiB low, 2 GiB above 4 GiB
  EXPECT_EQ(fw.item(FwCfg::kRamSize), fw_cfg_le(5ULL << 30, 8));
  EXPECT_EQ(fw.item(FwCfg::kNbCpus), fw_cfg_le(2, 2));
  auto dir = fw.item(FwCfg::kFileDir);
  ASSERT_GE(dir.size(), 4u);
  std::map<std::string, uint16_t> files;
  for (uint32_t i = 0; i < be32(dir, 0); ++i) {
    const size_t at = 4 + i * 64;
    files[std::string(reinterpret_cast<const char*>(&dir[at + 8]))] = static_cast<uint16_t>((dir[at + 4] << 8) | dir[at + 5]);
  }
  ASSERT_TRUE(files.count("etc/e820"));
  ASSERT_TRUE(files.count("etc/sercon-port"));
  ASSERT_TRUE(files.count("etc/show-boot-menu"));
  ASSERT_TRUE(files.count("etc/boot-menu-wait"));
  EXPECT_EQ(fw.item(files["etc/sercon-port"]), fw_cfg_le(0x3F8, 2));
  auto e820 = fw.item(files["etc/e820"]);
  ASSERT_EQ(e820.size(), 40u);
  auto le64 = [&](size_t at) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | e820[at + static_cast<size_t>(i)];
    return v;
  };
  EXPECT_EQ(le64(0), 0u);
  EXPECT_EQ(le64(8), 0xC0000000u);
  EXPECT_EQ(e820[16], 1);
  EXPECT_EQ(le64(20), 1ULL << 32);
  EXPECT_EQ(le64(28), 2ULL << 30);
}

class RecordingBackend final : public VmBackend {
 public:
  std::string_view accelerator() const override { return "test"; }
  Status map_memory(const GuestMemory&) override { return ok_status(); }
  Result<std::unique_ptr<VcpuBackend>> create_vcpu(uint32_t) override { return make_error("none"); }
  Status fetch_dirty_log(const MemoryRegion&, std::span<uint64_t>) override { return make_error("none"); }
  void set_irq(uint32_t gsi, bool asserted) override { events.emplace_back(gsi, asserted); }
  Status add_ioeventfd(IoSpace, uint64_t, uint32_t, int, std::optional<uint64_t>) override { return ok_status(); }
  std::vector<std::pair<uint32_t, bool>> events;
};

TEST(PcPlatform, PirqLineFollowsTheRouteAndMovesAHeldLevel) {
  RecordingBackend vm;
  Piix3IsaBridge piix3;
  PirqIrqLine line(vm, piix3, 2, 10);
  line.set_level(true);
  EXPECT_EQ(vm.events.back(), std::make_pair(10u, true)) << "fallback GSI before firmware routes";
  std::array<uint8_t, 1> v{11};
  piix3.config().write(0x62, v);
  line.set_level(true);
  ASSERT_GE(vm.events.size(), 3u);
  EXPECT_EQ(vm.events[1], std::make_pair(10u, false)) << "old GSI lowered";
  EXPECT_EQ(vm.events[2], std::make_pair(11u, true));
  line.set_level(false);
  EXPECT_EQ(vm.events.back(), std::make_pair(11u, false));
}

TEST(PcPlatform, CmosMemorySizeBytesAsSeaBiosReadsThem) {
  RecordingIrqLine irq;
  CmosRtc rtc(irq);
  fill_pc_cmos(rtc, 5ULL << 30, 4);
  EXPECT_EQ(rtc.ram(0x15) | (rtc.ram(0x16) << 8), 640);
  EXPECT_EQ(rtc.ram(0x17) | (rtc.ram(0x18) << 8), 0xFFFF) << "capped";
  EXPECT_EQ(rtc.ram(0x30) | (rtc.ram(0x31) << 8), 0xFFFF);
  EXPECT_EQ(rtc.ram(0x34) | (rtc.ram(0x35) << 8), (0xC0000000 - (16 << 20)) >> 16);
  EXPECT_EQ(rtc.ram(0x5B) | (rtc.ram(0x5C) << 8) | (rtc.ram(0x5D) << 16), (2ULL << 30) >> 16);
  EXPECT_EQ(rtc.ram(0x5F), 3);
  fill_pc_cmos(rtc, 64ULL << 20, 1);
  EXPECT_EQ(rtc.ram(0x17) | (rtc.ram(0x18) << 8), 63 * 1024);
  EXPECT_EQ(rtc.ram(0x34) | (rtc.ram(0x35) << 8), (48 << 20) >> 16);
  EXPECT_EQ(rtc.ram(0x5B) | rtc.ram(0x5C) | rtc.ram(0x5D), 0);
}

}  // namespace
}  // namespace kvpc
