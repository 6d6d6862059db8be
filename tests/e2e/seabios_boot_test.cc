// Debian's SeaBIOS under --accel emu: its banner on COM1 (through the fw_cfg "etc/sercon-port"
// console) and its log on debugcon 0x402, POST over kvpc's PC (i440FX, PIIX3, fw_cfg, CMOS,
// PIT), PCI enumeration and BAR assignment, and its boot order, within a time bound.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSeaBios = "/usr/share/seabios/bios.bin";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class SeaBiosBootTest : public ::testing::Test {
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
  std::string runtime_;
};

TEST_F(SeaBiosBootTest, BootsToItsBannerAndThroughItsBootOrderUnderEmu) {
  const std::string debugcon = runtime_ + "/debugcon.log";
  const auto start = std::chrono::steady_clock::now();
  testing::KvpcProcess process(
      {"run", "--accel", "emu", "--bios", kSeaBios, "--mem", "128M", "--debugcon", "file:" + debugcon, "--name", "seabios"},
      runtime_);
  ASSERT_TRUE(process.wait_for_output("SeaBIOS (version", 60s)) << "COM1 so far:\n" << process.so_far().out
                                                                 << "\nstderr:\n" << process.so_far().err
                                                                 << "\ndebugcon:\n" << slurp(debugcon);
  ASSERT_TRUE(process.wait_for_output("No bootable device", 90s)) << "COM1 so far:\n" << process.so_far().out
                                                                   << "\nstderr:\n" << process.so_far().err
                                                                   << "\ndebugcon:\n" << slurp(debugcon);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("SeaBIOS reached its boot order after %lld ms (emu)\n", static_cast<long long>(elapsed.count()));
  const std::string& com1 = process.so_far().out;
  EXPECT_NE(com1.find("Booting from Hard Disk..."), std::string::npos) << com1;

  const std::string log = slurp(debugcon);
  for (const char* line : {
           "SeaBIOS (version",                       // banner on debugcon 0x402 too
           "Running on QEMU (i440fx)",               // 8086:1237 host bridge recognised
           "Found QEMU fw_cfg",                      // signature
           "qemu/e820: addr 0x0000000000000000 len 0x0000000008000000 [RAM]",  // etc/e820
           "PCI: init bdf=00:01.0 id=8086:7000",     // PIIX3
           "PIIX3/PIIX4 init: elcr=00 0c",           // PIRQ routing and ELCR
           "PCI: map device bdf=00:02.0  bar 0, addr 0000c000, size 00000040 [io]",  // BAR sizing
           "PCI: init bdf=00:02.0 id=6b76:4943",     // the integration device enumerated
           "sercon: using ioport 0x3f8",             // etc/sercon-port
           "Booting from Hard Disk...",
       }) {
    EXPECT_NE(log.find(line), std::string::npos) << "debugcon lacks: " << line << "\n" << log;
  }
  EXPECT_EQ(log.find("WARNING - Timeout at"), log.find("WARNING - Timeout at i8042_wait_read"))
      << "the only timeout SeaBIOS may report is the absent PS/2 keyboard's:\n" << log;

  process.signal(SIGTERM);
  auto result = process.wait(20s);
  EXPECT_EQ(result.status, 0) << result.err;
}

}  // namespace
}  // namespace kvpc
