// SeaBIOS boots from a disk: `kvpc run --accel emu --bios bios.bin --disk IMAGE` with a raw
// image and a dynamic VHD holding the bios_boot_sector blob. SeaBIOS must find the
// virtio-blk function where it placed its BAR (PCI BAR relocation), load LBA 0 to 0x7C00 and
// jump to it; the boot sector then reads LBA 1-3 back through int 13h (SeaBIOS's virtio-blk
// driver again) and echoes LBA 3's first bytes on COM1 before exiting through 0x501.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "storage/block_image.h"
#include "storage/vhd_image.h"
#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSeaBios = "/usr/share/seabios/bios.bin";
constexpr int kBootSectorSuccess = (0x21 << 1) | 1;  // bios_boot_sector.asm: out 0x501 <- 0x21

// LBA 0 = the boot sector blob, LBA 1 and 3 carry the signatures it checks, LBA 2 filler.
std::vector<uint8_t> disk_contents() {
  std::ifstream in(testing::guest_blob("bios_boot_sector"), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.size(), 512u);
  bytes.resize(4 * 512, 0);
  for (size_t i = 512; i < 4 * 512; ++i) bytes[i] = static_cast<uint8_t>(i / 512);
  const std::string sig1 = "KVPCSEC1", sig3 = "KVPCSEC3";
  std::copy(sig1.begin(), sig1.end(), bytes.begin() + 512);
  std::copy(sig3.begin(), sig3.end(), bytes.begin() + 3 * 512);
  return bytes;
}

class SeaBiosDiskBootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kSeaBios)) {
      GTEST_SKIP() << "skipped: " << kSeaBios << " is missing (Debian package seabios; tools/setup-debian.sh)";
    }
    runtime_ = testing::make_runtime_dir();
    ASSERT_FALSE(runtime_.empty());
  }
  void TearDown() override {
    if (!runtime_.empty()) std::filesystem::remove_all(runtime_);
  }

  void boot_and_expect_sector(const std::string& disk_arg, const char* label) {
    const auto start = std::chrono::steady_clock::now();
    auto result = testing::run_kvpc({"run", "--accel", "emu", "--bios", kSeaBios, "--mem", "128M", "--disk", disk_arg},
                                    runtime_, "", 120s);
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::printf("SeaBIOS booted the %s boot sector and it exited after %lld ms (emu)\n", label,
                static_cast<long long>(elapsed.count()));
    const std::string& com1 = result.out;
    EXPECT_EQ(result.status, kBootSectorSuccess) << "COM1:\n" << com1 << "\nstderr:\n" << result.err;
    const auto booting = com1.find("Booting from Hard Disk");
    const auto running = com1.find("kvpc-boot: sector running");
    ASSERT_NE(booting, std::string::npos) << com1;
    ASSERT_NE(running, std::string::npos) << com1;
    EXPECT_LT(booting, running) << "the sector runs after SeaBIOS chose the disk";
    EXPECT_NE(com1.find("kvpc-boot: int13 read KVPCSEC3\r\n"), std::string::npos) << com1;
    EXPECT_EQ(com1.find("fail to find vq"), std::string::npos) << com1;
  }
  std::string runtime_;
};

TEST_F(SeaBiosDiskBootTest, BootsTheBootSectorOfARawImage) {
  const std::string path = runtime_ + "/boot.img";
  auto bytes = disk_contents();
  bytes.resize(1 << 20, 0);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  boot_and_expect_sector(path, "raw");
}

TEST_F(SeaBiosDiskBootTest, BootsTheBootSectorOfADynamicVhd) {
  const std::string path = runtime_ + "/boot.vhd";
  auto created = testing::run_kvpc({"disk", "create", path, "--size", "8M"}, runtime_, "", 20s);
  ASSERT_EQ(created.status, 0) << created.err;
  {
    auto image = open_block_image(path, ImageFormat::kVhd, false);
    ASSERT_TRUE(image.ok()) << image.error().message;
    const auto bytes = disk_contents();
    ASSERT_TRUE((*image)->write(0, bytes).ok());
    ASSERT_TRUE((*image)->flush().ok());
  }
  boot_and_expect_sector(path + ",format=vhd", "VHD");
}

}  // namespace
}  // namespace kvpc
