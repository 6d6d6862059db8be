// Tiny guests, one per feature, run on a real accelerator with recording devices on the
// buses: each test asserts the exact exits (port/address, size, data) the guest makes.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "devices/debug_exit.h"
#include "guest-firmware/blobs.h"
#include "tests/machine/accelerators.h"
#include "tests/unit/vmm/recording_device.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/machine/machine.h"

namespace kvpc {
namespace {

using testing::RecordingDevice;

// Finishes the run when the guest writes isa-debug-exit (or resets).
class FinishingPower final : public PowerControl {
 public:
  explicit FinishingPower(RunControl& control) : control_(control) {}
  void request_poweroff(int status) override {
    control_.finish({MachineOutcome::Kind::kDebugExit, status, "debug exit"});
  }
  void request_reset() override { control_.finish({MachineOutcome::Kind::kReset, 0, "reset"}); }

 private:
  RunControl& control_;
};

class GuestExitsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { KVPC_SKIP_UNLESS_ACCELERATOR(GetParam()); }

  // Loads `image`, wires the recording devices and runs until the guest finishes. A set-up
  // failure is returned as a kHostError outcome (and fails the test).
  MachineOutcome run_guest(std::span<const uint8_t> image, const std::string& cmdline = "") {
    auto fail = [](const std::string& what) {
      ADD_FAILURE() << what;
      return MachineOutcome{MachineOutcome::Kind::kHostError, 0, what};
    };
    MachineConfig config;
    config.accelerator = testing::accelerator_from_name(GetParam());
    config.ram_bytes = 64ULL << 20;
    auto memory = GuestMemory::create_pc(config.ram_bytes);
    if (!memory) return fail(memory.error().message);
    memory_ = std::move(memory).value();
    KernelLoadRequest request;
    request.image = image;
    request.path = "test guest";
    request.cmdline = cmdline;
    auto entry = load_kernel(request, memory_);
    if (!entry) return fail(entry.error().message);
    auto backend = create_accelerator(config);
    if (!backend) return fail(backend.error().message);
    backend_ = std::move(backend).value();
    if (!backend_->map_memory(memory_)) return fail("map_memory failed");

    EXPECT_TRUE(pio_.add(&debugcon_, 0xE9, 1).ok());
    EXPECT_TRUE(pio_.add(&port_510_, 0x510, 4).ok());
    EXPECT_TRUE(pio_.add(&port_514_, 0x514, 4).ok());
    EXPECT_TRUE(pio_.add(&debug_exit_, 0x501, 2).ok());
    EXPECT_TRUE(mmio_.add(&mmio_device_, 0xD0000000, 0x1000).ok());
    pio_.freeze();
    mmio_.freeze();

    auto vcpu = backend_->create_vcpu(0);
    if (!vcpu) return fail(vcpu.error().message);
    vcpu_ = std::move(vcpu).value();
    if (auto status = vcpu_->set_entry_state(*entry); !status) return fail(status.error().message);
    control_.set_kicker([this] { vcpu_->kick(); });
    VcpuRunner runner(*vcpu_, pio_, mmio_, control_, {false, vcpu_->run_size()});
    runner.start();
    MachineOutcome outcome = control_.wait_finished();
    runner.join();
    return outcome;
  }

  static std::vector<uint64_t> written_values(const RecordingDevice& device) {
    std::vector<uint64_t> values;
    for (const auto& access : device.accesses) {
      if (access.write) values.push_back(access.value);
    }
    return values;
  }

  GuestMemory memory_;
  std::unique_ptr<VmBackend> backend_;
  std::unique_ptr<VcpuBackend> vcpu_;
  PioBus pio_;
  MmioBus mmio_;
  RunControl control_{1};
  FinishingPower power_{control_};
  RecordingDevice debugcon_{"debugcon", 0xE9};
  RecordingDevice port_510_{"port510"};
  RecordingDevice port_514_{"port514"};
  RecordingDevice mmio_device_{"mmio", 0x40};
  DebugExit debug_exit_{power_};
};

TEST_P(GuestExitsTest, PortWritesOfEachWidthArriveExactly) {
  MachineOutcome outcome = run_guest(firmware::pio_out());
  EXPECT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit);
  EXPECT_EQ(outcome.exit_status, (0x10 << 1) | 1);
  EXPECT_EQ(written_values(debugcon_), (std::vector<uint64_t>{'O', 'K', '\n'}));
  ASSERT_EQ(port_510_.accesses.size(), 1u);
  EXPECT_EQ(port_510_.accesses[0].size, 2u);
  EXPECT_EQ(port_510_.accesses[0].value, 0xBEEFu);
  ASSERT_EQ(port_514_.accesses.size(), 1u);
  EXPECT_EQ(port_514_.accesses[0].size, 4u);
  EXPECT_EQ(port_514_.accesses[0].value, 0xDEADBEEFu);
}

TEST_P(GuestExitsTest, PortReadDeliversDeviceValueAndUnclaimedReadsAllOnes) {
  MachineOutcome outcome = run_guest(firmware::pio_in());
  ASSERT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit);
  // The guest echoes what it read from 0xE9 (our device answers 0xE9 + offset 0).
  EXPECT_EQ(written_values(debugcon_), (std::vector<uint64_t>{0xE9}));
  // Unclaimed port 0x5F0 reads all ones: exit code 0xFF & 0x7F.
  EXPECT_EQ(outcome.exit_status, (0x7F << 1) | 1);
}

TEST_P(GuestExitsTest, MmioWriteAndReadReachDeviceAtOffsets) {
  MachineOutcome outcome = run_guest(firmware::mmio());
  ASSERT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit);
  ASSERT_EQ(mmio_device_.accesses.size(), 2u);
  EXPECT_TRUE(mmio_device_.accesses[0].write);
  EXPECT_EQ(mmio_device_.accesses[0].offset, 0u);
  EXPECT_EQ(mmio_device_.accesses[0].size, 4u);
  EXPECT_EQ(mmio_device_.accesses[0].value, 0x12345678u);
  EXPECT_FALSE(mmio_device_.accesses[1].write);
  EXPECT_EQ(mmio_device_.accesses[1].offset, 0x10u);
  EXPECT_EQ(mmio_device_.accesses[1].size, 1u);
  EXPECT_EQ(outcome.exit_status, (((0x40 + 0x10) & 0x7F) << 1) | 1);
}

TEST_P(GuestExitsTest, StringOutputDeliversEveryByteInOrder) {
  MachineOutcome outcome = run_guest(firmware::string_io());
  ASSERT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit);
  EXPECT_EQ(outcome.exit_status, (0x11 << 1) | 1);
  std::string text;
  for (uint64_t value : written_values(debugcon_)) text += static_cast<char>(value);
  EXPECT_EQ(text, "hello, world\n");
}

TEST_P(GuestExitsTest, ByteWriteToDebugExitEndsWithShiftedStatus) {
  MachineOutcome outcome = run_guest(firmware::debug_exit());
  EXPECT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit);
  EXPECT_EQ(outcome.exit_status, (0x31 << 1) | 1);
}

TEST_P(GuestExitsTest, TripleFaultIsReportedWithRegisters) {
  MachineOutcome outcome = run_guest(firmware::triple_fault());
  EXPECT_EQ(outcome.kind, MachineOutcome::Kind::kTripleFault);
  EXPECT_NE(outcome.message.find("rip="), std::string::npos) << outcome.message;
}

TEST_P(GuestExitsTest, MultibootGuestSeesItsCommandLineAndMemory) {
  MachineOutcome outcome = run_guest(firmware::multiboot_info(), "hello multiboot");
  ASSERT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit);
  EXPECT_EQ(outcome.exit_status, (0x20 << 1) | 1);
  std::string text;
  for (uint64_t value : written_values(debugcon_)) text += static_cast<char>(value);
  // 64 MiB of RAM: mem_upper counts the KiB from 1 MiB up to the end of low RAM.
  EXPECT_EQ(text, "cmdline=hello multiboot\nmem_upper=64512\n");
}

INSTANTIATE_TEST_SUITE_P(Accelerators, GuestExitsTest, ::testing::Values("kvm", "emu"),
                         testing::accelerator_test_name);

}  // namespace
}  // namespace kvpc
