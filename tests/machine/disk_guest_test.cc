// Disks through a guest: the virtio_blk_rw test guest writes two sectors through virtio-blk,
// reads them back and flushes; afterwards the host opens the image file and finds the bytes.
// Run with a raw image and with a dynamic VHD (where the write allocates a block).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "devices/char_backend.h"
#include "storage/block_image.h"
#include "storage/vhd_image.h"
#include "tests/machine/accelerators.h"
#include "vmm/machine/machine.h"

namespace kvpc {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kTestSector = 4100;  // guest-firmware/tests/virtio_blk_rw.asm
constexpr size_t kDataBytes = 1024;
constexpr int kGuestSuccess = (0x44 << 1) | 1;

class DiskGuestTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kvpc-disk-guest-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(DiskGuestTest, GuestWritesReadsBackAndTheFileHoldsTheBytes) {
  const auto& [accelerator, format_name] = GetParam();
  KVPC_SKIP_UNLESS_ACCELERATOR(accelerator);
  const bool vhd = format_name == "vhd";
  const std::string image = (dir_ / (vhd ? "disk.vhd" : "disk.img")).string();
  DiskCreateOptions options;
  options.size_bytes = 8 << 20;
  options.format = vhd ? ImageFormat::kVhd : ImageFormat::kRaw;
  auto created = create_image_file(image, options);
  ASSERT_TRUE(created.ok()) << created.error().message;

  EventLoop loop;
  ASSERT_TRUE(loop.init().ok());
  loop.start_thread();
  CaptureCharBackend serial, debugcon;
  MachineConfig config;
  config.accelerator = testing::accelerator_from_name(accelerator);
  config.ram_bytes = 64ULL << 20;
  config.kernel_path = std::string(KVPC_BINARY_DIR) + "/guest-firmware/virtio_blk_rw.bin";
  config.disks.push_back(DiskConfig{image, ImageFormat::kAuto, false});
  {
    auto machine = Machine::create(config, loop, MachineHooks{&serial, &debugcon});
    ASSERT_TRUE(machine.ok()) << machine.error().message;
    machine.value()->start();
    MachineOutcome outcome = machine.value()->wait();
    EXPECT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit) << outcome.message;
    EXPECT_EQ(outcome.exit_status, kGuestSuccess) << "guest failure code " << std::hex << (outcome.exit_status >> 1);
    auto counters = machine.value()->board().disks().disk(0).counters();
    EXPECT_EQ(counters.requests, 3u);
    EXPECT_EQ(counters.bytes_written, kDataBytes);
    EXPECT_EQ(counters.bytes_read, kDataBytes);
    EXPECT_EQ(counters.flushes, 1u);
  }
  loop.stop();

  auto reopened = open_block_image(image, ImageFormat::kAuto, true);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ((*reopened)->format_name(), vhd ? "vhd-dynamic" : "raw");
  std::vector<uint8_t> bytes(kDataBytes);
  ASSERT_TRUE((*reopened)->read(kTestSector * 512, bytes).ok());
  for (size_t i = 0; i < kDataBytes; ++i) {
    ASSERT_EQ(bytes[i], static_cast<uint8_t>(i * 7 + 0x3D)) << "byte " << i;
  }
  if (vhd) {
    auto* vhd_image = dynamic_cast<VhdImage*>(reopened->get());
    ASSERT_NE(vhd_image, nullptr);
    EXPECT_EQ(vhd_image->allocated_blocks(), 1u) << "one 2 MiB block allocated for the write";
  }
}

INSTANTIATE_TEST_SUITE_P(Accelerators, DiskGuestTest,
                         ::testing::Combine(::testing::Values("kvm", "emu"), ::testing::Values("raw", "vhd")),
                         [](const auto& param_info) { return std::get<0>(param_info.param) + "_" + std::get<1>(param_info.param); });

}  // namespace
}  // namespace kvpc
