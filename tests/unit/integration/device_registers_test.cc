// BAR0 registers: identity, ATTACH validation, ISR/IRQ, DOORBELL, RESET.
#include <gtest/gtest.h>

#include <poll.h>

#include "tests/unit/integration/fake_guest.h"

namespace kvpc::testing {
namespace {

using namespace proto;

bool eventfd_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

TEST(DeviceRegisters, IdentityRegisters) {
  TestRig rig;
  EXPECT_EQ(rig.guest.read_reg(kRegMagic), kMagic);
  EXPECT_EQ(rig.guest.read_reg(kRegDeviceVersion), 1u);
  EXPECT_EQ(rig.guest.status(), 0u);
  uint8_t byte[1] = {0};
  rig.device.bar_device(0)->read(kRegMagic, byte);
  EXPECT_EQ(byte[0], 0xFF);  // only dword accesses
  rig.guest.write_reg(kRegRingPages, 7);
  EXPECT_EQ(rig.guest.read_reg(kRegRingPages), 7u);
}

TEST(DeviceRegisters, AttachWithGoodRingSetsStatus) {
  TestRig rig;
  EXPECT_TRUE(rig.guest.attach());
  EXPECT_EQ(rig.guest.last_error(), 0u);
  EXPECT_TRUE(rig.device.link_state().area.has_value());
}

struct BadAttach {
  const char* what;
  uint64_t gpa;
  uint32_t pages;
};

class DeviceBadAttach : public ::testing::TestWithParam<BadAttach> {};

TEST_P(DeviceBadAttach, FailsWithErrorCodeOneAndNothingAttached) {
  TestRig rig;
  ASSERT_TRUE(rig.guest.attach());
  EXPECT_FALSE(rig.guest.attach_at(GetParam().gpa, GetParam().pages));
  EXPECT_EQ(rig.guest.last_error(), 1u);
  EXPECT_EQ(rig.guest.read_reg(kRegErrorCount), 1u);
  EXPECT_FALSE(rig.device.link_state().area.has_value());
  rig.pump();
  EXPECT_FALSE(rig.services.agent_present());
}

INSTANTIATE_TEST_SUITE_P(
    All, DeviceBadAttach,
    ::testing::Values(BadAttach{"unaligned", 0x100800, 4}, BadAttach{"too few pages", 0x100000, 2},
                      BadAttach{"too many pages", 0x100000, 65}, BadAttach{"zero pages", 0x100000, 0},
                      BadAttach{"past end of RAM", (16 << 20) - 0x2000, 4},
                      BadAttach{"in the PCI hole", 0xC0000000, 4}, BadAttach{"wraps", 0xFFFFFFFFFFFFF000, 4}),
    [](const auto& param_info) {
      std::string name = param_info.param.what;
      for (auto& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(DeviceRegisters, DoorbellWriteOfAnyWidthSignalsTheEventfd) {
  TestRig rig;
  int fd = rig.device.doorbell_eventfd();
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(eventfd_readable(fd));
  uint8_t one[1] = {1};
  rig.device.bar_device(0)->write(IntegrationDevice::doorbell_port_offset(), one);
  EXPECT_TRUE(eventfd_readable(fd));
  EXPECT_TRUE(rig.device.consume_doorbell());
  EXPECT_FALSE(eventfd_readable(fd));
  rig.guest.doorbell();
  EXPECT_TRUE(eventfd_readable(fd));
}

TEST(DeviceRegisters, RxInterruptRespectsMaskAndIsrReadClears) {
  TestRig rig;
  rig.guest.attach();
  rig.guest.mask_rx_interrupts(true);
  rig.guest.say_hello();
  rig.services.process();
  EXPECT_FALSE(rig.irq.level());  // masked: ISR set, line low
  auto messages = rig.guest.receive();
  EXPECT_EQ(rig.guest.last_isr(), kIsrRx);
  EXPECT_EQ(messages.size(), 5u);
  rig.guest.mask_rx_interrupts(false);
  rig.guest.send_request(kControlChannel, kMsgOpen, encode(ChannelRef{1}));
  rig.guest.doorbell();
  rig.services.process();
  EXPECT_TRUE(rig.irq.level());
  EXPECT_EQ(rig.guest.read_reg(kRegIsr), kIsrRx);
  EXPECT_FALSE(rig.irq.level());
  EXPECT_EQ(rig.guest.read_reg(kRegIsr), 0u);
}

TEST(DeviceRegisters, InterruptDisableBitKeepsLineLow) {
  TestRig rig;
  rig.device.config().set_command(pci::kCommandIo | pci::kCommandInterruptDisable);
  rig.guest.attach();
  rig.guest.say_hello();
  rig.services.process();
  EXPECT_FALSE(rig.irq.level());
  EXPECT_EQ(rig.guest.read_reg(kRegIsr), kIsrRx);
}

TEST(DeviceRegisters, HostResetRaisesResetBitAndDetaches) {
  TestRig rig;
  rig.connect();
  rig.device.host_reset_link();
  EXPECT_TRUE(rig.irq.level());
  EXPECT_EQ(rig.guest.read_reg(kRegIsr), kIsrReset);
  EXPECT_EQ(rig.guest.status() & kStatusAttached, 0u);
  rig.pump();
  EXPECT_FALSE(rig.services.agent_present());
}

TEST(DeviceRegisters, GuestResetDetachesAndReattachWorks) {
  TestRig rig;
  rig.connect();
  rig.guest.reset_link();
  EXPECT_EQ(rig.guest.status() & kStatusAttached, 0u);
  rig.pump();
  EXPECT_FALSE(rig.services.agent_present());
  rig.connect();
  EXPECT_TRUE(rig.services.agent_present());
  EXPECT_TRUE(rig.services.channel_ready(kServiceShutdown));
}

TEST(DeviceRegisters, SmallestRingWorks) {
  TestRig rig({}, kMinRingPages);
  rig.connect();
  auto observer = std::make_shared<RecordingObserver>();
  ASSERT_EQ(rig.services.begin_operation(GuestOperation::kLogoff, false, observer), S_OK);
  rig.pump();
  EXPECT_EQ(observer->events().back(), "complete 0x00000000");
}

}  // namespace
}  // namespace kvpc::testing
