// RESET / re-ATTACH racing the loop side's ring writes.
//
// The guest may RESET (CONTROL=2) and ATTACH again, possibly at another address, from its vCPU
// thread at any time. Once that CONTROL write has returned, the host must not write anything
// for the old link epoch into guest memory: not into the old ring (the guest may already have
// reused it) and not into the new one (a stale rx_write in a fresh header is a corrupt ring).
// IntegrationDevice::with_current_link() is the one place the loop touches ring memory; these
// tests put a RESET/ATTACH at each point where the host had already decided to touch the ring.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "tests/unit/integration/fake_guest.h"

namespace kvpc::testing {
namespace {

using namespace proto;

constexpr uint64_t kRingA = TestRig::kRingGpa;  // where TestRig's guest attaches
constexpr uint64_t kRingB = 0x200000;
constexpr uint32_t kPages = TestRig::kRingPages;
constexpr uint64_t kRingBytes = uint64_t{kPages} * kPageSize;
constexpr uint8_t kCanary = 0xA5;

std::vector<uint8_t> snapshot(const GuestMemory& memory, uint64_t gpa, uint64_t size) {
  auto bytes = memory.span(gpa, size);
  return bytes ? std::vector<uint8_t>(bytes->begin(), bytes->end()) : std::vector<uint8_t>{};
}

void fill(const GuestMemory& memory, uint64_t gpa, uint64_t size, uint8_t value) {
  if (auto bytes = memory.span(gpa, size)) std::memset(bytes->data(), value, bytes->size());
}

// Offset of the first byte where guest memory at gpa differs from `expected`, or -1.
int64_t first_diff(const GuestMemory& memory, uint64_t gpa, const std::vector<uint8_t>& expected) {
  auto bytes = memory.span(gpa, expected.size());
  if (!bytes) return 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if ((*bytes)[i] != expected[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

// Offset of the first byte in [gpa, gpa+size) that is not `value`, or -1.
int64_t first_not(const GuestMemory& memory, uint64_t gpa, uint64_t size, uint8_t value) {
  auto bytes = memory.span(gpa, size);
  if (!bytes) return 0;
  for (size_t i = 0; i < bytes->size(); ++i) {
    if ((*bytes)[i] != value) return static_cast<int64_t>(i);
  }
  return -1;
}

// A fresh ring at B as a guest would prepare it: data pages canary-filled (stand-in for
// "whatever the guest had there"), header zeroed by attach_at().
void prepare_ring_b(TestRig& rig) { fill(rig.memory, kRingB, kRingBytes, kCanary); }

// B holds exactly what the guest put there: zero header, canary data.
void expect_ring_b_untouched(TestRig& rig) {
  EXPECT_EQ(first_not(rig.memory, kRingB, kPageSize, 0), -1) << "host wrote into the new ring's header";
  EXPECT_EQ(first_not(rig.memory, kRingB + kPageSize, kRingBytes - kPageSize, kCanary), -1)
      << "host wrote into the new ring's data";
}

// After the old-epoch race: a guest on ring B gets a normal link (HELLO, channels, LOGOFF).
void expect_new_link_works(TestRig& rig) {
  FakeGuest guest_b(rig.memory, *rig.device.bar_device(0), kRingB, kPages);
  rig.services.process();  // the host follows the new epoch (link down, then up on B)
  guest_b.say_hello();
  for (int i = 0; i < 16; ++i) {
    rig.services.process();
    guest_b.step();
  }
  ASSERT_TRUE(rig.services.agent_present());
  ASSERT_TRUE(rig.services.channel_ready(kServiceShutdown));
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  for (int i = 0; i < 16; ++i) {
    rig.services.process();
    guest_b.step();
  }
  ASSERT_FALSE(observer->events().empty());
  EXPECT_EQ(observer->events().back(), "complete 0x00000000");
  EXPECT_EQ(guest_b.read_reg(kRegErrorCount), 0u);
}

// The timers flush RX without following ATTACH/RESET: a BEAT / TIME due between the guest's
// re-ATTACH and the next doorbell poll used to go into the old ring (and, re-attached at the
// same address, put a stale rx_write into the fresh header). Deterministic, no seam needed.
TEST(LinkRace, TimerAfterReattachElsewhereWritesNoRing) {
  TestRig rig;
  rig.connect();
  ASSERT_TRUE(rig.services.channel_ready(kServiceHeartbeat));
  rig.pump(2);  // the guest has read everything; the host has nothing queued
  prepare_ring_b(rig);

  rig.guest.reset_link();
  auto old_ring = snapshot(rig.memory, kRingA, kRingBytes);  // nothing may change after RESET
  ASSERT_TRUE(rig.guest.attach_at(kRingB, kPages));
  rig.services.heartbeat_tick();  // a BEAT is due
  rig.services.time_sync_tick();  // and a TIME

  EXPECT_EQ(first_diff(rig.memory, kRingA, old_ring), -1) << "host wrote into the old ring after RESET";
  expect_ring_b_untouched(rig);
  EXPECT_FALSE(rig.irq.level());
  expect_new_link_works(rig);
}

TEST(LinkRace, TimerAfterReattachAtSameAddressLeavesFreshHeader) {
  TestRig rig;
  rig.connect();
  rig.pump(2);
  ASSERT_NE(rig.guest.header_u32(kRxWriteOffset), 0u);  // the old epoch did write RX

  rig.guest.reset_link();
  ASSERT_TRUE(rig.guest.attach());  // same address: header page zeroed by the guest
  auto fresh = snapshot(rig.memory, kRingA, kRingBytes);
  rig.services.heartbeat_tick();
  rig.services.time_sync_tick();
  EXPECT_EQ(first_diff(rig.memory, kRingA, fresh), -1) << "stale packet or index in the re-attached ring";
  EXPECT_EQ(rig.guest.header_u32(kRxWriteOffset), 0u);

  rig.guest.say_hello();
  rig.pump();
  EXPECT_TRUE(rig.services.agent_present());
  EXPECT_TRUE(rig.services.channel_ready(kServiceShutdown));
}

// The window inside one poll: the host has read a request from TX of epoch N and decided to
// write the response (or publish tx_read) when the guest RESETs and ATTACHes at B. The test
// seam (IntegrationDevice::set_link_access_hook_for_testing) fires right before the k-th ring
// access of the poll, i.e. after the decision and before the epoch re-check; the sweep over k
// covers every ring access a request/response round makes, whatever their order.
TEST(LinkRace, ResetAttachAtEveryRingAccessOfAPoll) {
  int fired_at_least_once = 0;
  for (int k = 1; k < 32; ++k) {
    SCOPED_TRACE(::testing::Message() << "reset before ring access #" << k);
    TestRig rig;
    rig.connect();
    rig.pump(2);
    prepare_ring_b(rig);

    std::vector<uint8_t> old_ring;
    bool fired = false;
    int calls = 0;
    rig.device.set_link_access_hook_for_testing([&] {
      if (++calls != k) return;
      fired = true;
      rig.guest.reset_link();
      old_ring = snapshot(rig.memory, kRingA, kRingBytes);
      ASSERT_TRUE(rig.guest.attach_at(kRingB, kPages));
    });
    // Two requests (OPENs of unknown channels, each answered E_INVALIDARG) so the poll
    // interleaves TX reads, RX writes and the tx_read publication.
    rig.guest.send_request(kControlChannel, kMsgOpen, encode(ChannelRef{9}));
    rig.guest.send_request(kControlChannel, kMsgOpen, encode(ChannelRef{10}));
    rig.guest.doorbell();
    rig.services.process();
    rig.services.heartbeat_tick();
    rig.device.set_link_access_hook_for_testing({});
    if (!fired) break;  // k is past the last ring access: every point was covered
    ++fired_at_least_once;

    EXPECT_EQ(first_diff(rig.memory, kRingA, old_ring), -1) << "host wrote into the old ring after RESET";
    expect_ring_b_untouched(rig);
    expect_new_link_works(rig);
  }
  // next, publish and at least two RX writes: the sweep must have hit more than one point.
  EXPECT_GE(fired_at_least_once, 4);
}

// A vCPU-like thread keeps resetting and re-attaching across three rings while a loop-like
// thread polls and sends BEATs and TIMEs as fast as it can. Every ring that is not current is
// refilled with a canary right after the RESET that left it, and checked (with the gaps around
// the rings) just before it is attached again: any host write for a stale epoch shows up.
TEST(LinkRace, StressResetAttachWhileTheLoopSends) {
  GuestMemory memory = make_memory();
  RecordingIrq irq;
  IntegrationDevice device(memory, irq);
  ASSERT_TRUE(device.init());
  FakeClock clock;
  HostServicesOptions options;
  options.clock = [&clock] { return clock.now(); };
  options.unix_time_ns = [] { return uint64_t{1700000000} * 1000000000; };
  HostServices services(device, options);

  constexpr uint64_t kArea = 0x300000;  // rings at kArea + 0x20000 * i, canary everywhere else
  constexpr uint64_t kAreaBytes = 0x80000;
  constexpr uint64_t kStride = 0x20000;
  constexpr int kRings = 3;
  fill(memory, kArea, kAreaBytes, kCanary);
  std::vector<std::unique_ptr<FakeGuest>> guests;
  for (int i = 0; i < kRings; ++i) {
    guests.push_back(std::make_unique<FakeGuest>(memory, *device.bar_device(0), kArea + kStride * i, kPages));
  }

  std::atomic<bool> done{false};
  std::thread loop([&] {
    while (!done.load(std::memory_order_relaxed)) {
      services.process();
      services.heartbeat_tick();
      services.time_sync_tick();
    }
  });

  // Checks that everything in the area except ring `current` still holds the canary.
  auto foreign_write = [&](int current) -> std::string {
    for (uint64_t at = kArea; at < kArea + kAreaBytes; at += kPageSize) {
      if (current >= 0 && at >= kArea + kStride * current && at < kArea + kStride * current + kRingBytes) continue;
      int64_t bad = first_not(memory, at, kPageSize, kCanary);
      if (bad >= 0) return fmt::format("write at gpa {:#x} while ring {} was current", at + bad, current);
    }
    return {};
  };

  std::mt19937 random(12345);
  int attaches = 0;
  std::string failure;
  // At least 1.5 s and at least kMinAttaches links (every fourth one lives 20 ms, long enough for beats),
  // whichever takes longer: a slow build (Debug + ASan under load manages ~6 links a second)
  // gets the same amount of stress, not less. The 60 s bound only stops a hang.
  constexpr int kMinAttaches = 40;
  const auto start = std::chrono::steady_clock::now();
  auto keep_going = [&] {
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (elapsed > std::chrono::seconds(60)) return false;
    return elapsed < std::chrono::milliseconds(1500) || attaches < kMinAttaches;
  };
  for (int i = 0; keep_going() && failure.empty(); ++i) {
    int current = i % kRings;
    FakeGuest& guest = *guests[current];
    failure = foreign_write(-1);  // the previous ring was canary-filled after its RESET
    if (!failure.empty()) break;
    fill(memory, kArea + kStride * current, kRingBytes, 0);  // a fresh ring
    if (!guest.attach()) {
      failure = "ATTACH refused";
      break;
    }
    ++attaches;
    guest.say_hello();
    // Mostly short links (RESET lands during the handshake), some long enough for beats.
    auto period = std::chrono::microseconds(i % 4 == 3 ? 20000 : random() % 3000);
    auto until = std::chrono::steady_clock::now() + period;
    while (std::chrono::steady_clock::now() < until) {
      if (irq.level()) guest.step();
      std::this_thread::yield();
    }
    failure = foreign_write(current);
    guest.reset_link();
    // From here on the host must not write this ring: the guest "reuses" it.
    fill(memory, kArea + kStride * current, kRingBytes, kCanary);
  }
  done = true;
  loop.join();
  if (failure.empty()) failure = foreign_write(-1);
  EXPECT_EQ(failure, "");
  EXPECT_GT(attaches, 20);
  LinkCounters counters = services.link_counters();
  EXPECT_GT(counters.link_ups, 10u);
  EXPECT_GT(counters.packets_sent, 0u);
  EXPECT_GT(services.counters().beats_sent, 0u);
  // The stress itself is not expected to be error-free (stale guest replies land on new links),
  // but the last link must still work: attach once more and do a full handshake.
  FakeGuest& last = *guests[0];
  ASSERT_TRUE(last.attach());
  last.say_hello();
  for (int i = 0; i < 16; ++i) {
    services.process();
    last.step();
  }
  EXPECT_TRUE(services.agent_present());
  EXPECT_TRUE(services.channel_ready(kServiceShutdown));
}

}  // namespace
}  // namespace kvpc::testing
