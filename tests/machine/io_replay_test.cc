// Record/replay of device I/O without a CPU: recordings written with IoRecorder are played
// back against a fresh Board (vmm/machine/io_replay.h), which must answer identically.
#include "vmm/machine/io_replay.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "vmm/io_record.h"
#include "vmm/machine/board.h"

namespace kvpc {
namespace {

constexpr uint16_t kCom1 = BoardPorts::kCom1;

class IoReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/kvpc-record-test-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = path;
    io_record::Header header;
    header.ram_bytes = 32ULL << 20;
    header.cpus = 1;
    header.accelerator = "emu";
    header.name = "replay-test";
    auto recorder = IoRecorder::create(path_, header);
    ASSERT_TRUE(recorder.ok()) << recorder.error().message;
    recorder_ = std::move(recorder).value();
  }
  void TearDown() override { unlink(path_.c_str()); }

  void pio(bool write, uint16_t port, uint64_t value) {
    recorder_->lock();
    recorder_->access({observe::Space::kPio, write, 1, 0, port, 0, value, nullptr});
    recorder_->unlock();
  }
  void irq(uint32_t gsi, bool level) {
    recorder_->lock();
    recorder_->irq(gsi, level);
    recorder_->unlock();
  }
  void serial_input(std::string_view bytes) {
    recorder_->lock();
    recorder_->input(observe::Input::kSerialBytes,
                     std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    recorder_->unlock();
  }

  // What a fresh 16550A does: program LCR, read LSR (idle transmitter), receive "hi" from the
  // host, enable the RX interrupt and OUT2 (the line rises), read both bytes (it falls).
  void record_uart_session(uint64_t lsr_answer = 0x60, bool with_lower = true) {
    pio(true, kCom1 + 3, 0x03);
    pio(false, kCom1 + 5, lsr_answer);
    pio(false, kCom1 + 3, 0x03);
    serial_input("hi");
    pio(false, kCom1 + 5, 0x61);
    pio(true, kCom1 + 1, 0x01);
    pio(true, kCom1 + 4, 0x08);
    irq(BoardPorts::kCom1Irq, true);
    pio(false, kCom1 + 0, 'h');
    pio(false, kCom1 + 0, 'i');
    if (with_lower) irq(BoardPorts::kCom1Irq, false);
  }

  std::vector<uint8_t> finish() {
    EXPECT_TRUE(recorder_->finish().ok());
    std::ifstream in(path_, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  std::string path_;
  std::unique_ptr<IoRecorder> recorder_;
};

TEST_F(IoReplayTest, FreshDevicesAnswerARecordedUartSessionIdentically) {
  record_uart_session();
  auto report = replay_io(finish());
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_FALSE(report->mismatch) << *report->mismatch;
  EXPECT_EQ(report->accesses, 8u);
  EXPECT_EQ(report->reads_checked, 5u);
  EXPECT_EQ(report->interrupts, 2u);
  EXPECT_EQ(report->inputs, 1u);
  EXPECT_EQ(report->header.name, "replay-test");
  EXPECT_EQ(report->header.ram_bytes, 32ULL << 20);
}

TEST_F(IoReplayTest, ADifferentAnswerNamesTheFirstAccessThatDiffers) {
  record_uart_session(0x20);
  auto report = replay_io(finish());
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_TRUE(report->mismatch);
  EXPECT_NE(report->mismatch->find("access #1:"), std::string::npos) << *report->mismatch;
  EXPECT_NE(report->mismatch->find("pio read port 0x3fd (com1+0x5)"), std::string::npos) << *report->mismatch;
  EXPECT_NE(report->mismatch->find("recorded answer 0x20, replay answered 0x60"), std::string::npos)
      << *report->mismatch;
  EXPECT_EQ(report->mismatch_record, 1u);
}

TEST_F(IoReplayTest, AnInterruptTheRecordingLacksIsAMismatch) {
  record_uart_session(0x60, false);
  auto report = replay_io(finish());
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_TRUE(report->mismatch);
  EXPECT_NE(report->mismatch->find("gsi 4 lowered"), std::string::npos) << *report->mismatch;
}

TEST_F(IoReplayTest, AMissingHostInputMakesTheDevicesAnswerDifferently) {
  pio(false, kCom1 + 5, 0x61);  // data ready, but the input that made it so was not recorded
  auto report = replay_io(finish());
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_TRUE(report->mismatch);
  EXPECT_NE(report->mismatch->find("recorded answer 0x61, replay answered 0x60"), std::string::npos)
      << *report->mismatch;
}

TEST_F(IoReplayTest, EveryCutOfTheFileIsAClearErrorNeverAMatch) {
  record_uart_session();
  const auto bytes = finish();
  for (size_t length = 0; length < bytes.size(); ++length) {
    auto report = replay_io(std::span<const uint8_t>(bytes.data(), length));
    ASSERT_FALSE(report.ok()) << "a recording cut to " << length << " bytes replayed as valid";
    const std::string& message = report.error().message;
    EXPECT_TRUE(message.find("truncated") != std::string::npos || message.find("not a kvpc I/O recording") != std::string::npos ||
                message.find("header") != std::string::npos)
        << length << ": " << message;
  }
}

TEST_F(IoReplayTest, GarbageUnknownVersionsAndTrailingBytesAreRefused) {
  record_uart_session();
  auto bytes = finish();
  std::vector<uint8_t> garbage(64, 0x5A);
  auto report = replay_io(garbage);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("not a kvpc I/O recording"), std::string::npos);

  auto future = bytes;
  future[8] = 99;  // version
  report = replay_io(future);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("version 99 is not supported"), std::string::npos) << report.error().message;

  auto trailing = bytes;
  trailing.push_back(0);
  report = replay_io(trailing);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("after its end marker"), std::string::npos) << report.error().message;

  // An unknown record tag where the first record starts.
  size_t header_bytes = 0;
  ASSERT_TRUE(parse_io_record_header(bytes, &header_bytes).ok());
  auto bad_tag = bytes;
  bad_tag[header_bytes] = 0x77;
  report = replay_io(bad_tag);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("unknown record tag 0x77"), std::string::npos) << report.error().message;
}

}  // namespace
}  // namespace kvpc
