// Whole machines (board, devices, loaders, vCPU threads) booting real guests.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "devices/char_backend.h"
#include "tests/machine/accelerators.h"
#include "vmm/machine/machine.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;

class MachineBootTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(loop_.init().ok()); loop_.start_thread(); }
  void TearDown() override { loop_.stop(); }

  std::unique_ptr<Machine> boot(MachineConfig config) {
    config.accelerator = testing::accelerator_from_name(GetParam());
    if (config.ram_bytes == 256ULL << 20) config.ram_bytes = 64ULL << 20;
    auto machine = Machine::create(config, loop_, MachineHooks{&serial_, &debugcon_});
    EXPECT_TRUE(machine.ok()) << machine.error().message;
    if (!machine.ok()) return nullptr;
    auto result = std::move(machine).value();
    result->start();
    return result;
  }

  // Types a line into COM1 the way a terminal would (CR ends it).
  static void type(Machine& machine, const std::string& line) {
    std::string text = line + "\r";
    size_t sent = 0;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (sent < text.size() && std::chrono::steady_clock::now() < deadline) {
      sent += machine.board().com1().receive(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()) + sent, text.size() - sent));
      if (sent < text.size()) std::this_thread::sleep_for(1ms);
    }
  }

  EventLoop loop_;
  CaptureCharBackend serial_;
  CaptureCharBackend debugcon_;
};

TEST_P(MachineBootTest, BuiltinGuestPrintsBannerCommandLineAndPrompt) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  MachineConfig config;
  config.cmdline = "users=alice,bob";
  auto machine = boot(config);
  ASSERT_NE(machine, nullptr);
  EXPECT_TRUE(serial_.wait_for("kvpc> ", 20s)) << serial_.text();
  EXPECT_NE(serial_.text().find("kvpc built-in guest"), std::string::npos);
  EXPECT_NE(serial_.text().find("(64-bit)"), std::string::npos);
  EXPECT_NE(serial_.text().find("users=alice,bob"), std::string::npos);
  machine->stop({MachineOutcome::Kind::kStopped, 0, "test done"});
  EXPECT_EQ(machine->wait().kind, MachineOutcome::Kind::kStopped);
}

TEST_P(MachineBootTest, SerialInputReachesTheGuestAndItsCommandsRun) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  auto machine = boot(MachineConfig{});
  ASSERT_NE(machine, nullptr);
  ASSERT_TRUE(serial_.wait_for("kvpc> ", 20s)) << serial_.text();
  type(*machine, "echo typed on the host");
  EXPECT_TRUE(serial_.wait_for("\ntyped on the host", 10s)) << serial_.text();
  type(*machine, "mem");
  EXPECT_TRUE(serial_.wait_for("64 MiB", 10s)) << serial_.text();
  type(*machine, "exit 7");
  MachineOutcome outcome = machine->wait();
  EXPECT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit);
  EXPECT_EQ(outcome.exit_status, 15);
}

TEST_P(MachineBootTest, PoweroffCommandEndsWithStatusZero) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  auto machine = boot(MachineConfig{});
  ASSERT_NE(machine, nullptr);
  ASSERT_TRUE(serial_.wait_for("kvpc> ", 20s));
  type(*machine, "poweroff");
  MachineOutcome outcome = machine->wait();
  EXPECT_EQ(outcome.kind, MachineOutcome::Kind::kPoweredOff);
  EXPECT_EQ(outcome.exit_status, 0);
}

TEST_P(MachineBootTest, RebootCommandAsksForReset) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  auto machine = boot(MachineConfig{});
  ASSERT_NE(machine, nullptr);
  ASSERT_TRUE(serial_.wait_for("kvpc> ", 20s));
  type(*machine, "reboot");
  EXPECT_EQ(machine->wait().kind, MachineOutcome::Kind::kReset);
}

TEST_P(MachineBootTest, TripleFaultStopsOrResetsAsConfigured) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  for (bool reset : {false, true}) {
    MachineConfig config;
    config.reset_on_triple_fault = reset;
    auto machine = boot(config);
    ASSERT_NE(machine, nullptr);
    ASSERT_TRUE(serial_.wait_for("kvpc> ", 20s));
    serial_.clear();
    type(*machine, "triplefault");
    EXPECT_EQ(machine->wait().kind, reset ? MachineOutcome::Kind::kReset : MachineOutcome::Kind::kTripleFault);
  }
}

TEST_P(MachineBootTest, PauseParksTheVcpuAndResumeContinues) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  auto machine = boot(MachineConfig{});
  ASSERT_NE(machine, nullptr);
  ASSERT_TRUE(serial_.wait_for("kvpc> ", 20s));
  ASSERT_TRUE(machine->pause());
  EXPECT_TRUE(machine->paused());
  serial_.clear();
  type(*machine, "echo while paused");
  // Input is buffered by the UART but nothing runs to echo it.
  EXPECT_FALSE(serial_.wait_for("while paused", 300ms));
  machine->resume();
  EXPECT_TRUE(serial_.wait_for("while paused", 10s)) << serial_.text();
  machine->stop({MachineOutcome::Kind::kStopped, 0, "test done"});
  machine->wait();
}

TEST_P(MachineBootTest, MissingKernelFileIsAClearError) {
  KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
  MachineConfig config;
  config.accelerator = testing::accelerator_from_name(GetParam());
  config.kernel_path = "/nonexistent/kernel.bin";
  auto machine = Machine::create(config, loop_, MachineHooks{&serial_, &debugcon_});
  ASSERT_FALSE(machine.ok());
  EXPECT_NE(machine.error().message.find("/nonexistent/kernel.bin"), std::string::npos) << machine.error().message;
}

INSTANTIATE_TEST_SUITE_P(Accelerators, MachineBootTest, ::testing::Values("kvm", "emu"),
                         testing::accelerator_test_name);

// Real mode needs KVM: the flat binary convention (0x10000, 1000:0000) end to end.
TEST(FlatBinaryOnKvm, PrintsAndExits) {
  KVPC_SKIP_UNLESS_ACCELERATOR("kvm");
  EventLoop loop;
  ASSERT_TRUE(loop.init().ok());
  CaptureCharBackend serial, debugcon;
  MachineConfig config;
  config.ram_bytes = 64ULL << 20;
  config.kernel_path = std::string(KVPC_BINARY_DIR) + "/guest-firmware/flat_real.bin";
  auto machine = Machine::create(config, loop, MachineHooks{&serial, &debugcon});
  ASSERT_TRUE(machine.ok()) << machine.error().message;
  machine.value()->start();
  MachineOutcome outcome = machine.value()->wait();
  EXPECT_EQ(outcome.exit_status, (0x21 << 1) | 1);
  EXPECT_EQ(debugcon.text(), "flat\n");
}

// The same real-mode flat binary under the interpreter (real mode and 16-bit code, docs/emulator.md).
TEST(FlatBinaryOnEmu, PrintsAndExits) {
  EventLoop loop;
  ASSERT_TRUE(loop.init().ok());
  CaptureCharBackend serial, debugcon;
  MachineConfig config;
  config.ram_bytes = 64ULL << 20;
  config.accelerator = Accelerator::kEmu;
  config.kernel_path = std::string(KVPC_BINARY_DIR) + "/guest-firmware/flat_real.bin";
  auto machine = Machine::create(config, loop, MachineHooks{&serial, &debugcon});
  ASSERT_TRUE(machine.ok()) << machine.error().message;
  machine.value()->start();
  MachineOutcome outcome = machine.value()->wait();
  EXPECT_EQ(outcome.exit_status, (0x21 << 1) | 1) << outcome.message;
  EXPECT_EQ(debugcon.text(), "flat\n");
}

}  // namespace
}  // namespace kvpc
