// The machine's wiring for real: the doorbell eventfd and the timers on an EventLoop thread.
// The fake guest writes from this thread (as a vCPU would); HostServices runs on the loop.
#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/integration/fake_guest.h"

namespace kvpc::testing {
namespace {

template <typename Predicate>
bool wait_for(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(EventLoopWiring, LogoffEndToEndWithTheLoopOnItsThread) {
  GuestMemory memory = make_memory();
  RecordingIrq irq;
  IntegrationDevice device(memory, irq);
  ASSERT_TRUE(device.init());
  HostServicesOptions options;
  options.heartbeat_interval = std::chrono::milliseconds(100);
  HostServices services(device, options);
  EventLoop loop;
  ASSERT_TRUE(loop.init());
  ASSERT_TRUE(services.start(loop));
  loop.start_thread();

  FakeGuest guest(memory, *device.bar_device(0), 0x200000, 8);
  ASSERT_TRUE(guest.attach());
  guest.say_hello();
  // The guest reacts when the interrupt line rises, as a driver would.
  auto run_guest_until = [&](auto done) {
    return wait_for([&] {
      if (irq.level()) guest.step();
      return done();
    });
  };
  ASSERT_TRUE(run_guest_until([&] { return services.channel_ready(3) && services.sessions().has_value(); }));
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  ASSERT_TRUE(run_guest_until([&] { return observer->events().size() == 4; }));
  EXPECT_EQ(observer->events().back(), "complete 0x00000000");
  ASSERT_TRUE(run_guest_until([&] { return services.heartbeat().beats_answered >= 2; }));
  EXPECT_TRUE(services.heartbeat().heartbeating);

  guest.behavior.answer_operations = false;
  auto pending = std::make_shared<RecordingObserver>();
  ASSERT_EQ(services.begin_operation(GuestOperation::kShutdown, false, pending), S_OK);
  services.stop();
  loop.stop();
  EXPECT_EQ(pending->events(), (std::vector<std::string>{"complete 0xA0040206"}));
}

}  // namespace
}  // namespace kvpc::testing
