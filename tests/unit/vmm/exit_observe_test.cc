// Per-device exit statistics and the trace hook of the exit handler, fed synthetic exits.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/unit/vmm/recording_device.h"
#include "vmm/exit_handler.h"
#include "vmm/observe.h"
#include "vmm/trace.h"

namespace kvpc {
namespace {

using testing::RecordingDevice;

class ExitObserveTest : public ::testing::Test {
 protected:
  static constexpr size_t kRunSize = 8192;
  static constexpr uint32_t kDataOffset = 4096;

  void SetUp() override {
    stats_.timing_period = 1;  // time every access, so histogram totals equal the counts
    buffer_.assign(kRunSize, 0);
    ASSERT_TRUE(pio_.add(&other_, 0x60, 1).ok());   // range 0
    ASSERT_TRUE(pio_.add(&uart_, 0x3F8, 8).ok());   // range 1
    ASSERT_TRUE(mmio_.add(&low_, 0xC0000000, 0x1000).ok());
    ASSERT_TRUE(mmio_.add(&high_, 0xD0000000, 0x1000).ok());
    pio_.freeze();
    mmio_.freeze();
  }
  void TearDown() override {
    observe::set_trace_categories(0);
    observe::install_tracer(nullptr);
  }
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(buffer_.data()); }

  void port(uint8_t direction, uint16_t port, uint8_t size, uint32_t count, uint32_t value = 0) {
    run().exit_reason = KVM_EXIT_IO;
    run().io.direction = direction;
    run().io.port = port;
    run().io.size = size;
    run().io.count = count;
    run().io.data_offset = kDataOffset;
    for (uint32_t i = 0; i < count; ++i) store_le(std::span<uint8_t>(buffer_.data() + kDataOffset + i * size, size), value);
    ExitContext context{pio_, mmio_, stats_, kRunSize};
    context.vcpu = 3;
    ASSERT_EQ(handle_exit(run(), context), ExitAction::kContinue);
  }
  void mmio(uint64_t gpa, bool write) {
    run().exit_reason = KVM_EXIT_MMIO;
    run().mmio.phys_addr = gpa;
    run().mmio.len = 4;
    run().mmio.is_write = write ? 1 : 0;
    ExitContext context{pio_, mmio_, stats_, kRunSize};
    ASSERT_EQ(handle_exit(run(), context), ExitAction::kContinue);
  }
  static uint64_t histogram_total(const DeviceExitStats& stats) {
    uint64_t total = 0;
    for (const auto& bucket : stats.cycles_log2) total += bucket.get();
    return total;
  }

  alignas(8) std::vector<uint8_t> buffer_;
  PioBus pio_;
  MmioBus mmio_;
  ExitStats stats_;
  RecordingDevice other_{"kbd", 0x11};
  RecordingDevice uart_{"com1", 0x60};
  RecordingDevice low_{"low", 0};
  RecordingDevice high_{"high", 0};
};

TEST_F(ExitObserveTest, EveryPortAccessIsCountedOnItsRangeWithATimedAnswer) {
  port(KVM_EXIT_IO_OUT, 0x3F8, 1, 5, 'x');  // a string OUT of five elements: five accesses
  port(KVM_EXIT_IO_IN, 0x3FD, 1, 1);
  port(KVM_EXIT_IO_IN, 0x60, 1, 1);
  port(KVM_EXIT_IO_OUT, 0x1234, 2, 1);      // unclaimed
  EXPECT_EQ(stats_.by_reason[KVM_EXIT_IO].get(), 4u);
  EXPECT_EQ(stats_.pio_ranges[1].writes.get(), 5u);
  EXPECT_EQ(stats_.pio_ranges[1].reads.get(), 1u);
  EXPECT_EQ(stats_.pio_ranges[0].reads.get(), 1u);
  EXPECT_EQ(stats_.pio_ranges[0].writes.get(), 0u);
  EXPECT_EQ(histogram_total(stats_.pio_ranges[1]), 6u);
  EXPECT_EQ(histogram_total(stats_.pio_ranges[0]), 1u);
  EXPECT_EQ(stats_.unclaimed_pio.get(), 1u);
  EXPECT_EQ(pio_.range_index(0x3FF), 1u);
  EXPECT_EQ(pio_.range_base(0x3FF), 0x3F8u);
}

TEST_F(ExitObserveTest, MmioAccessesAreCountedOnTheRangeTheyHit) {
  mmio(0xD0000010, true);
  mmio(0xD0000010, false);
  mmio(0xC0000FFC, false);
  mmio(0xE0000000, false);  // unclaimed
  EXPECT_EQ(stats_.mmio_ranges[1].writes.get(), 1u);
  EXPECT_EQ(stats_.mmio_ranges[1].reads.get(), 1u);
  EXPECT_EQ(stats_.mmio_ranges[0].reads.get(), 1u);
  EXPECT_EQ(stats_.unclaimed_mmio.get(), 1u);
  EXPECT_EQ(histogram_total(stats_.mmio_ranges[1]), 2u);
}

TEST_F(ExitObserveTest, OnlyEveryTimingPeriodthAccessIsTimedButAllAreCounted) {
  stats_.timing_period = 4;
  stats_.until_timed = 0;
  port(KVM_EXIT_IO_OUT, 0x3F8, 1, 9, 'x');  // accesses 1, 5 and 9 are timed
  EXPECT_EQ(stats_.pio_ranges[1].writes.get(), 9u);
  EXPECT_EQ(stats_.pio_ranges[1].timed.get(), 3u);
  EXPECT_EQ(histogram_total(stats_.pio_ranges[1]), 3u);
  ExitStats fresh;
  EXPECT_EQ(fresh.timing_period, ExitStats::kDefaultTimingPeriod);
  EXPECT_TRUE(fresh.take_timing_sample()) << "the first access is always timed";
  for (uint32_t i = 1; i < ExitStats::kDefaultTimingPeriod; ++i) EXPECT_FALSE(fresh.take_timing_sample());
  EXPECT_TRUE(fresh.take_timing_sample());
}

TEST(DeviceExitStats, HistogramBucketIsTheLog2OfTheCycles) {
  DeviceExitStats stats;
  stats.record(false, 0);
  stats.record(false, 1);
  stats.record(true, 1000);        // 2^9 <= 1000 < 2^10
  stats.record(true, 1ULL << 40);  // beyond the table: the last bucket
  EXPECT_EQ(stats.cycles_log2[0].get(), 2u);
  EXPECT_EQ(stats.cycles_log2[9].get(), 1u);
  EXPECT_EQ(stats.cycles_log2[DeviceExitStats::kTimeBuckets - 1].get(), 1u);
  EXPECT_EQ(stats.reads.get(), 2u);
  EXPECT_EQ(stats.writes.get(), 2u);
  EXPECT_EQ(stats.cycles_total.get(), 1001u + (1ULL << 40));
}

TEST(TraceCategories, ParseNamesAllAndOffAndRejectsUnknownWords) {
  uint32_t bits = 0;
  std::string_view bad;
  EXPECT_TRUE(observe::parse_categories("pio,irq", bits, bad));
  EXPECT_EQ(bits, observe::kPio | observe::kIrq);
  EXPECT_EQ(observe::categories_text(bits), "pio,irq");
  EXPECT_TRUE(observe::parse_categories("all", bits, bad));
  EXPECT_EQ(bits, uint32_t{observe::kTraceMask});
  EXPECT_TRUE(observe::parse_categories("off", bits, bad));
  EXPECT_EQ(bits, 0u);
  EXPECT_FALSE(observe::parse_categories("pio,disk", bits, bad));
  EXPECT_EQ(bad, "disk");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(ExitObserveTest, TraceWritesOneLinePerAccessOnlyWhileItsCategoryIsOn) {
  char path[] = "/tmp/kvpc-trace-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    auto tracer = Tracer::open(path);
    ASSERT_TRUE(tracer.ok());
    observe::install_tracer(tracer->get());
    port(KVM_EXIT_IO_OUT, 0x3F8, 1, 1, 'A');  // tracing installed but no category: nothing
    observe::set_trace_categories(observe::kPio);
    EXPECT_TRUE(observe::any());
    port(KVM_EXIT_IO_OUT, 0x3F9, 1, 1, 'B');
    port(KVM_EXIT_IO_IN, 0x3FD, 1, 1);
    mmio(0xD0000010, true);  // mmio is not traced
    observe::set_trace_categories(0);
    EXPECT_FALSE(observe::any());
    port(KVM_EXIT_IO_OUT, 0x3F8, 1, 1, 'C');
    observe::install_tracer(nullptr);
    (*tracer)->flush();
    EXPECT_EQ((*tracer)->events_written(), 2u);
  }
  const std::string text = read_file(path);
  unlink(path);
  EXPECT_NE(text.find(" cpu3 pio com1 write port=0x3f9 off=0x1 size=1 value=0x42\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" cpu3 pio com1 read port=0x3fd off=0x5 size=1 value=0x65\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("value=0x41"), std::string::npos) << text;
  EXPECT_EQ(text.find("value=0x43"), std::string::npos) << text;
  EXPECT_EQ(text.find("mmio"), std::string::npos) << text;
  // Stats still count the traced accesses.
  EXPECT_EQ(stats_.pio_ranges[1].writes.get(), 3u);
}

TEST(TraceFormat, IrqAndDeviceEventsNameTheirFields) {
  TraceEvent irq{};
  irq.ns = 1500000001;
  irq.category = observe::kIrq;
  irq.address = 4;
  irq.value = 1;
  irq.what = "raise";
  irq.vcpu = -1;
  std::snprintf(irq.device, sizeof(irq.device), "gsi");
  EXPECT_EQ(format_trace_event(irq), "1.500000001 host irq gsi raise gsi=4 level=1");
}

}  // namespace
}  // namespace kvpc
