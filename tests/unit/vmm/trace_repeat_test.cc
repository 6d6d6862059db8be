// The tracer collapses runs of identical events into "last access repeated N times" records
// (vmm/trace.h): first access and order kept, repeats reported when the run ends or at a flush.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vmm/observe.h"
#include "vmm/trace.h"

namespace kvpc {
namespace {

class TraceRepeatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fd = mkstemp(path_);
    ASSERT_GE(fd, 0);
    close(fd);
    auto opened = Tracer::open(path_, /*background_flush=*/background_flush_);
    ASSERT_TRUE(opened.ok());
    tracer_ = std::move(*opened);
  }
  void TearDown() override {
    tracer_.reset();
    unlink(path_);
  }
  // A pio read of `port` answered with `value` by cpu0, at `ns`.
  static TraceEvent read(uint64_t ns, uint16_t port, uint64_t value) {
    TraceEvent event{};
    event.ns = ns;
    event.address = port;
    event.offset = port & 7;
    event.value = value;
    event.what = "read";
    event.vcpu = 0;
    event.category = observe::kPio;
    event.size = 1;
    std::snprintf(event.device, sizeof(event.device), "com1");
    return event;
  }
  std::vector<std::string> lines() {
    tracer_->flush();
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  bool background_flush_ = false;  // the test decides when flush() runs, so lines are exact
  char path_[64] = "/tmp/kvpc-trace-repeat-XXXXXX";
  std::unique_ptr<Tracer> tracer_;
};

TEST_F(TraceRepeatTest, RunOfIdenticalAccessesIsOneLinePlusARepeatRecordInOrder) {
  tracer_->emit(read(1000, 0x3FD, 0x60));
  for (uint64_t i = 1; i < 1000; ++i) tracer_->emit(read(1000 + i, 0x3FD, 0x60));
  tracer_->emit(read(5000, 0x3F8, 0x7A));  // the data register: a different access ends the run
  tracer_->emit(read(6000, 0x3FD, 0x60));  // the first access of a new run gets its own line
  const auto text = lines();
  ASSERT_EQ(text.size(), 4u) << ::testing::PrintToString(text);
  EXPECT_EQ(text[0], "0.000001000 cpu0 pio com1 read port=0x3fd off=0x5 size=1 value=0x60");
  EXPECT_EQ(text[1], "0.000001999 cpu0 last access repeated 999 times");  // the time of the last one
  EXPECT_EQ(text[2], "0.000005000 cpu0 pio com1 read port=0x3f8 off=0x0 size=1 value=0x7a");
  EXPECT_EQ(text[3], "0.000006000 cpu0 pio com1 read port=0x3fd off=0x5 size=1 value=0x60");
}

TEST_F(TraceRepeatTest, ADifferentValueIsADifferentAccess) {
  tracer_->emit(read(1000, 0x3FD, 0x60));
  tracer_->emit(read(2000, 0x3FD, 0x61));  // data ready now: that is news, not a repeat
  tracer_->emit(read(3000, 0x3FD, 0x61));
  const auto text = lines();
  ASSERT_EQ(text.size(), 3u) << ::testing::PrintToString(text);
  EXPECT_NE(text[1].find("value=0x61"), std::string::npos);
  EXPECT_EQ(text[2], "0.000003000 cpu0 last access repeated 1 times");
}

TEST_F(TraceRepeatTest, FlushReportsTheRepeatsOfAnOpenRunSoFarAndOnlyOnce) {
  for (uint64_t i = 0; i < 5; ++i) tracer_->emit(read(1000 + i, 0x3FD, 0x60));
  auto text = lines();
  ASSERT_EQ(text.size(), 2u) << ::testing::PrintToString(text);
  EXPECT_EQ(text[1], "0.000001004 cpu0 last access repeated 4 times");
  for (uint64_t i = 0; i < 3; ++i) tracer_->emit(read(2000 + i, 0x3FD, 0x60));
  text = lines();
  ASSERT_EQ(text.size(), 3u) << ::testing::PrintToString(text);
  EXPECT_EQ(text[2], "0.000002002 cpu0 last access repeated 3 times");
  tracer_->emit(read(3000, 0x3F8, 0x7A));  // ends the run: nothing left to report for it
  text = lines();
  ASSERT_EQ(text.size(), 4u) << ::testing::PrintToString(text);
  EXPECT_NE(text[3].find("port=0x3f8"), std::string::npos);
  EXPECT_EQ(lines().size(), 4u);  // an idle flush writes nothing
}

TEST_F(TraceRepeatTest, RunsDoNotSpanAChangeOfTraceCategories) {
  tracer_->emit(read(1000, 0x3FD, 0x60));
  observe::set_trace_categories(observe::kPio);  // e.g. `kvpc trace NAME pio` again
  observe::set_trace_categories(0);
  tracer_->emit(read(2000, 0x3FD, 0x60));
  const auto text = lines();
  ASSERT_EQ(text.size(), 2u) << ::testing::PrintToString(text);
  EXPECT_EQ(text[1], "0.000002000 cpu0 pio com1 read port=0x3fd off=0x5 size=1 value=0x60");
}

class TraceRepeatWithFlusherTest : public TraceRepeatTest {
 protected:
  void SetUp() override {
    background_flush_ = true;
    TraceRepeatTest::SetUp();
  }
};

TEST_F(TraceRepeatWithFlusherTest, APollingThreadCostsAboutOneLinePerFlushWhileTheFlusherRuns) {
  // A producer repeating one access for 200 ms while the flusher runs every 20 ms: every
  // repeat is accounted for, in a handful of lines instead of hundreds of thousands.
  uint64_t emitted = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  std::thread producer([&] {
    while (std::chrono::steady_clock::now() < until) {
      tracer_->emit(read(tracer_->now_ns(), 0x3FD, 0x60));
      ++emitted;
    }
  });
  producer.join();
  const auto text = lines();
  ASSERT_GE(text.size(), 2u);
  uint64_t accounted = 1;  // the first line
  for (size_t i = 1; i < text.size(); ++i) {
    unsigned long long n = 0;
    ASSERT_EQ(std::sscanf(text[i].c_str(), "%*s cpu0 last access repeated %llu times", &n), 1) << text[i];
    accounted += n;
  }
  EXPECT_EQ(accounted, emitted);
  EXPECT_GT(emitted, 1000u);
  EXPECT_LE(text.size(), 40u) << "200 ms at one flush per 20 ms";
}

}  // namespace
}  // namespace kvpc
