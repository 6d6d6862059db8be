// load_vga_rom: which VGA option ROM a machine hands its firmware, and which files are refused.
#include "vmm/machine/vga_rom.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace kvpc {
namespace {

class VgaRomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kvpc_vga_rom_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    config_.bios_path = "/some/bios.bin";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, std::vector<uint8_t> bytes) {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::filesystem::path dir_;
  MachineConfig config_;
};

TEST_F(VgaRomTest, AnExplicitRomLoadsWhole) {
  std::vector<uint8_t> rom(1024, 0xCC);
  rom[0] = 0x55, rom[1] = 0xAA, rom[2] = 2;  // 2 x 512 bytes
  config_.vga_rom = write("ok.rom", rom);
  auto loaded = load_vga_rom(config_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(**loaded, rom);
}

TEST_F(VgaRomTest, NoneAndDirectBootsGiveNoRom) {
  config_.vga_rom = "none";
  auto none = load_vga_rom(config_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  MachineConfig direct;  // no --bios: nothing would run the ROM
  direct.vga_rom = "/nonexistent.rom";
  auto loaded = load_vga_rom(direct);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(VgaRomTest, BadFilesAreRefusedWithTheFlagInTheMessage) {
  std::vector<uint8_t> no_signature(512, 0);
  std::vector<uint8_t> too_short = {0x55, 0xAA, 4, 0};  // claims 2 KiB
  std::vector<uint8_t> too_big(129 * 1024, 0);
  too_big[0] = 0x55, too_big[1] = 0xAA, too_big[2] = 1;
  for (const auto& path : {write("a", no_signature), write("b", too_short), write("c", too_big),
                           (dir_ / "missing").string()}) {
    config_.vga_rom = path;
    auto loaded = load_vga_rom(config_);
    ASSERT_FALSE(loaded.ok()) << path;
    EXPECT_NE(loaded.error().message.find("--vga-rom"), std::string::npos) << loaded.error().message;
  }
}

}  // namespace
}  // namespace kvpc
