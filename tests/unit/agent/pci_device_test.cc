// SysfsPciDevice on a fake sysfs tree: it finds 6b76:4943 among other functions by their
// vendor/device files, accesses registers with 4-byte pread/pwrite at the register offset of
// resource0 (a plain file stands in for the kernel's I/O-BAR attribute), and refuses a BAR that
// does not read the KVIC magic.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "guest-agent/linux/pci_device.h"
#include "guest-agent/linux/wire.h"

namespace kvpc {
namespace {

using agent::SysfsPciDevice;

class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/kvpc-sysfs-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root = dir;
    add("0000:00:00.0", "0x8086", "0x1237");
    add("0000:00:02.0", "0x6b76", "0x0001");  // our vendor, another device
    add("0000:00:03.0", "0x6b76", "0x4943");
  }
  void TearDown() override { EXPECT_EQ(system(("rm -rf " + root).c_str()), 0); }

  void add(const std::string& bdf, const std::string& vendor, const std::string& device) {
    std::string d = root + "/" + bdf;
    ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
    std::ofstream(d + "/vendor") << vendor << "\n";
    std::ofstream(d + "/device") << device << "\n";
  }
  void write_bar(const std::string& bdf, uint32_t magic) {
    std::vector<uint8_t> bar(64, 0);
    std::memcpy(bar.data(), &magic, 4);
    std::ofstream(root + "/" + bdf + "/resource0", std::ios::binary).write(reinterpret_cast<char*>(bar.data()), 64);
  }

  std::string root;
};

TEST_F(FakeSysfs, FindsTheIntegrationFunctionByVendorAndDevice) {
  EXPECT_EQ(SysfsPciDevice::find(root), root + "/0000:00:03.0");
  EXPECT_EQ(SysfsPciDevice::find(root + "/nonexistent"), "");
}

TEST_F(FakeSysfs, RegistersArePreadAndPwriteAtTheirOffsets) {
  write_bar("0000:00:03.0", agent::wire::kMagic);
  std::string error;
  auto device = SysfsPciDevice::open(root + "/0000:00:03.0", false, &error);
  ASSERT_TRUE(device) << error;
  EXPECT_FALSE(device->has_interrupt());
  device->write32(agent::wire::kRegRingPages, 16);
  EXPECT_EQ(device->read32(agent::wire::kRegRingPages), 16u);
  EXPECT_EQ(device->read32(agent::wire::kRegMagic), agent::wire::kMagic);
  EXPECT_EQ(device->read32(0x1000), ~0u);  // past the BAR: reads all ones, as the bus would
}

TEST_F(FakeSysfs, ABarWithoutTheMagicIsRefused) {
  write_bar("0000:00:03.0", 0x12345678);
  std::string error;
  EXPECT_FALSE(SysfsPciDevice::open(root + "/0000:00:03.0", false, &error));
  EXPECT_NE(error.find("KVIC magic"), std::string::npos) << error;
}

}  // namespace
}  // namespace kvpc
