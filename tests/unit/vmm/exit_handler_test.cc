// The exit handler fed synthetic exits: a fake kvm_run in a buffer laid out like KVM's.
#include "vmm/exit_handler.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/unit/vmm/recording_device.h"

namespace kvpc {
namespace {

using testing::RecordingDevice;

class ExitHandlerTest : public ::testing::Test {
 protected:
  static constexpr size_t kRunSize = 8192;
  static constexpr uint32_t kDataOffset = 4096;

  void SetUp() override {
    buffer_.assign(kRunSize, 0);
    ASSERT_TRUE(pio_.add(&serial_, 0x3F8, 8).ok());
    ASSERT_TRUE(mmio_.add(&mmio_device_, 0xD0000000, 0x1000).ok());
  }
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(buffer_.data()); }
  uint8_t* io_data() { return buffer_.data() + kDataOffset; }

  void set_io(uint8_t direction, uint16_t port, uint8_t size, uint32_t count) {
    run().exit_reason = KVM_EXIT_IO;
    run().io.direction = direction;
    run().io.port = port;
    run().io.size = size;
    run().io.count = count;
    run().io.data_offset = kDataOffset;
  }

  ExitAction handle() {
    ExitContext context{pio_, mmio_, stats_, kRunSize};
    return handle_exit(run(), context);
  }

  alignas(8) std::vector<uint8_t> buffer_;
  PioBus pio_;
  MmioBus mmio_;
  ExitStats stats_;
  RecordingDevice serial_{"uart", 0x60};
  RecordingDevice mmio_device_{"mmio", 0xAB};
};

TEST_F(ExitHandlerTest, PortWriteReachesDeviceAtOffset) {
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 1, 1);
  io_data()[0] = 'K';
  EXPECT_EQ(handle(), ExitAction::kContinue);
  ASSERT_EQ(serial_.accesses.size(), 1u);
  EXPECT_EQ(serial_.accesses[0].offset, 0u);
  EXPECT_EQ(serial_.accesses[0].value, uint64_t{'K'});
  EXPECT_EQ(stats_.pio_writes.get(), 1u);
  EXPECT_EQ(stats_.by_reason[KVM_EXIT_IO].get(), 1u);
}

TEST_F(ExitHandlerTest, PortReadFillsTheRunDataArea) {
  set_io(KVM_EXIT_IO_IN, 0x3FD, 1, 1);
  EXPECT_EQ(handle(), ExitAction::kContinue);
  EXPECT_EQ(io_data()[0], 0x65);  // read_value 0x60 + offset 5
  EXPECT_EQ(stats_.pio_reads.get(), 1u);
}

TEST_F(ExitHandlerTest, StringOutputDeliversEveryElementInOrder) {
  const char text[] = "hello";
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 1, 5);
  std::memcpy(io_data(), text, 5);
  EXPECT_EQ(handle(), ExitAction::kContinue);
  ASSERT_EQ(serial_.accesses.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(serial_.accesses[i].value, uint64_t(uint8_t(text[i])));
  EXPECT_EQ(stats_.pio_writes.get(), 5u);
}

TEST_F(ExitHandlerTest, StringInputOfWordsFillsEachElement) {
  set_io(KVM_EXIT_IO_IN, 0x3F8, 2, 3);
  EXPECT_EQ(handle(), ExitAction::kContinue);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(io_data()[2 * i], 0x60);
    EXPECT_EQ(io_data()[2 * i + 1], 0x00);
  }
}

TEST_F(ExitHandlerTest, UnclaimedPortReadsAllOnesAndIsCounted) {
  set_io(KVM_EXIT_IO_IN, 0x5F0, 4, 1);
  EXPECT_EQ(handle(), ExitAction::kContinue);
  EXPECT_EQ(io_data()[0], 0xFF);
  EXPECT_EQ(io_data()[3], 0xFF);
  EXPECT_EQ(stats_.unclaimed_pio.get(), 1u);
}

TEST_F(ExitHandlerTest, IoDataOutsideTheRunAreaIsRejected) {
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 1, 4097);
  EXPECT_EQ(handle(), ExitAction::kBadExit);
  EXPECT_TRUE(serial_.accesses.empty());
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 4, 0x40000000);  // count * size overflows 32 bits
  EXPECT_EQ(handle(), ExitAction::kBadExit);
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 3, 1);  // no such access size
  EXPECT_EQ(handle(), ExitAction::kBadExit);
  EXPECT_TRUE(serial_.accesses.empty());
}

TEST_F(ExitHandlerTest, MmioWriteAndRead) {
  run().exit_reason = KVM_EXIT_MMIO;
  run().mmio.phys_addr = 0xD0000010;
  run().mmio.len = 4;
  run().mmio.is_write = 1;
  uint32_t value = 0x12345678;
  std::memcpy(run().mmio.data, &value, 4);
  EXPECT_EQ(handle(), ExitAction::kContinue);
  ASSERT_EQ(mmio_device_.accesses.size(), 1u);
  EXPECT_EQ(mmio_device_.accesses[0].offset, 0x10u);
  EXPECT_EQ(mmio_device_.accesses[0].value, 0x12345678u);

  run().mmio.is_write = 0;
  run().mmio.len = 1;
  EXPECT_EQ(handle(), ExitAction::kContinue);
  EXPECT_EQ(run().mmio.data[0], 0xBB);  // 0xAB + offset 0x10
}

TEST_F(ExitHandlerTest, MmioWithBadLengthIsRejected) {
  run().exit_reason = KVM_EXIT_MMIO;
  run().mmio.len = 9;
  EXPECT_EQ(handle(), ExitAction::kBadExit);
  run().mmio.len = 0;
  EXPECT_EQ(handle(), ExitAction::kBadExit);
}

TEST_F(ExitHandlerTest, LifecycleExitsMapToActions) {
  run().exit_reason = KVM_EXIT_HLT;
  EXPECT_EQ(handle(), ExitAction::kHalt);
  run().exit_reason = KVM_EXIT_SHUTDOWN;
  EXPECT_EQ(handle(), ExitAction::kTripleFault);
  run().exit_reason = KVM_EXIT_SYSTEM_EVENT;
  run().system_event.type = KVM_SYSTEM_EVENT_RESET;
  EXPECT_EQ(handle(), ExitAction::kReset);
  run().system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
  EXPECT_EQ(handle(), ExitAction::kPowerOff);
  run().system_event.type = KVM_SYSTEM_EVENT_CRASH;
  EXPECT_EQ(handle(), ExitAction::kGuestCrash);
  run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
  EXPECT_EQ(handle(), ExitAction::kInternalError);
  run().exit_reason = KVM_EXIT_FAIL_ENTRY;
  EXPECT_EQ(handle(), ExitAction::kFailEntry);
  run().exit_reason = KVM_EXIT_INTR;
  EXPECT_EQ(handle(), ExitAction::kContinue);
  run().exit_reason = 999;
  EXPECT_EQ(handle(), ExitAction::kBadExit);
  EXPECT_EQ(stats_.unknown_reason.get(), 1u);
}

}  // namespace
}  // namespace kvpc
