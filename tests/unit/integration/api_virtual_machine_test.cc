// VMVirtualMachine: opening, "Who may call" (owner, root, granted users and groups; everyone
// else refused and audited), Name/GuestOS/State, and event subscription through the VM's hub.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/integration/api_test_doubles.h"
#include "integration/api/caller_access.h"

namespace kvpc {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::StrictMock;
using testing::ApiRig;

class ApiVirtualMachine : public ::testing::Test {
 protected:
  bool may_use(CallerIdentity caller) { return caller_may_use(*rig.host, caller); }

  ApiRig rig;
};

TEST_F(ApiVirtualMachine, OpenChecksItsArguments) {
  std::shared_ptr<VMVirtualMachine> vm;
  EXPECT_EQ(VMVirtualMachine::open(rig.host, ApiRig::owner(), nullptr), E_POINTER);
  EXPECT_EQ(VMVirtualMachine::open(nullptr, ApiRig::owner(), &vm), E_INVALIDARG);
  EXPECT_EQ(vm, nullptr);
  EXPECT_EQ(VMVirtualMachine::open(rig.host, ApiRig::stranger(), &vm), S_OK);  // checked per call
}

TEST_F(ApiVirtualMachine, OwnerAndRootMayCall) {
  EXPECT_TRUE(may_use(ApiRig::owner()));
  EXPECT_TRUE(may_use(CallerIdentity{0, 0, {}}));
  EXPECT_FALSE(may_use(ApiRig::stranger()));
}

TEST_F(ApiVirtualMachine, GrantedUserAndGroupsMayCall) {
  ON_CALL(*rig.host, granted_uids()).WillByDefault(Return(std::vector<uint32_t>{3000}));
  ON_CALL(*rig.host, granted_gids()).WillByDefault(Return(std::vector<uint32_t>{500}));
  EXPECT_TRUE(may_use(CallerIdentity{3000, 3000, {}}));
  EXPECT_TRUE(may_use(CallerIdentity{3001, 500, {}}));        // primary group
  EXPECT_TRUE(may_use(CallerIdentity{3002, 3002, {7, 500}}));  // supplementary group
  EXPECT_FALSE(may_use(CallerIdentity{3003, 3003, {7, 8}}));
}

TEST_F(ApiVirtualMachine, StrangerIsRefusedOnEveryMemberWithAnAuditLine) {
  auto vm = rig.open_vm(ApiRig::stranger());
  std::string name;
  VMVMState state = vmVMState_Invalid;
  std::shared_ptr<IVMGuestOS> guest;
  auto sink = std::make_shared<testing::MockEventSink>();
  EXPECT_EQ(vm->get_Name(&name), E_ACCESSDENIED);
  EXPECT_EQ(vm->get_State(&state), E_ACCESSDENIED);
  EXPECT_EQ(vm->get_GuestOS(&guest), E_ACCESSDENIED);
  EXPECT_EQ(guest, nullptr);
  EXPECT_EQ(vm->Subscribe(sink), E_ACCESSDENIED);
  EXPECT_EQ(vm->Unsubscribe(sink), E_ACCESSDENIED);
  ASSERT_EQ(rig.audit_lines.size(), 5u);
  EXPECT_THAT(rig.audit_lines[0], HasSubstr("uid=2000 gid=2000 groups=2001"));
  EXPECT_THAT(rig.audit_lines[0], HasSubstr("vm='vm1'"));
  EXPECT_THAT(rig.audit_lines[0], HasSubstr("IVMVirtualMachine::get_Name"));
  EXPECT_THAT(rig.audit_lines[0],
              HasSubstr("HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED) (0x80070005)"));
}

TEST_F(ApiVirtualMachine, GrantTakesEffectAtOnce) {
  auto vm = rig.open_vm(ApiRig::stranger());
  std::string name;
  EXPECT_EQ(vm->get_Name(&name), E_ACCESSDENIED);
  ON_CALL(*rig.host, granted_uids()).WillByDefault(Return(std::vector<uint32_t>{2000}));
  EXPECT_EQ(vm->get_Name(&name), S_OK);
  EXPECT_EQ(name, "vm1");
}

TEST_F(ApiVirtualMachine, NameStateAndGuestOs) {
  auto vm = rig.open_vm();
  std::string name;
  VMVMState state = vmVMState_Invalid;
  std::shared_ptr<IVMGuestOS> guest;
  std::shared_ptr<IVMGuestOS> again;
  ASSERT_EQ(vm->get_Name(&name), S_OK);
  ASSERT_EQ(vm->get_State(&state), S_OK);
  ASSERT_EQ(vm->get_GuestOS(&guest), S_OK);
  ASSERT_EQ(vm->get_GuestOS(&again), S_OK);
  EXPECT_EQ(name, "vm1");
  EXPECT_EQ(state, vmVMState_Running);
  EXPECT_NE(guest, nullptr);
  EXPECT_EQ(guest, again);
  EXPECT_EQ(vm->get_Name(nullptr), E_POINTER);
  EXPECT_EQ(vm->get_State(nullptr), E_POINTER);
  EXPECT_EQ(vm->get_GuestOS(nullptr), E_POINTER);
}

TEST_F(ApiVirtualMachine, GuestOsOfATurnedOffVmExistsAndSaysNotRunning) {
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_TurnedOff));
  auto guest = rig.guest_os();
  std::shared_ptr<IVMTask> task;
  EXPECT_EQ(guest->Logoff(&task), VM_E_VM_NOT_RUNNING);
}

TEST_F(ApiVirtualMachine, UnknownVmIsVmUnknown) {
  auto vm = rig.open_vm();
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  std::string name;
  VMVMState state = vmVMState_Running;
  std::shared_ptr<IVMGuestOS> guest;
  EXPECT_EQ(vm->get_Name(&name), VM_E_VM_UNKNOWN);
  EXPECT_EQ(vm->get_State(&state), VM_E_VM_UNKNOWN);
  EXPECT_EQ(vm->get_GuestOS(&guest), VM_E_VM_UNKNOWN);
}

TEST_F(ApiVirtualMachine, SubscribedSinksReceiveTheMachinesEvents) {
  auto vm = rig.open_vm();
  auto sink = std::make_shared<StrictMock<testing::MockEventSink>>();
  ASSERT_EQ(vm->Subscribe(sink), S_OK);
  EXPECT_EQ(vm->Subscribe(sink), S_FALSE);
  ::testing::InSequence order;
  EXPECT_CALL(*sink, OnStateChange(vmVMState_Paused)).WillOnce(Return(S_OK));
  EXPECT_CALL(*sink, OnTripleFault()).WillOnce(Return(S_OK));
  EXPECT_CALL(*sink, OnHeartbeatStopped()).WillOnce(Return(S_OK));
  EXPECT_CALL(*sink, OnAdditionsUninstalled()).WillOnce(Return(S_OK));
  EXPECT_CALL(*sink, OnAdditionsAvailable()).WillOnce(Return(S_OK));
  EXPECT_CALL(*sink, OnGuestShutdown()).WillOnce(Return(S_OK));
  EXPECT_CALL(*sink, OnGuestLogoff(vmLogoff_Normal)).WillOnce(Return(S_OK));
  VmEventHub& hub = rig.state->events();
  hub.OnStateChange(vmVMState_Paused);
  hub.OnTripleFault();
  hub.OnHeartbeatStopped();
  hub.OnAdditionsUninstalled();
  hub.OnAdditionsAvailable();
  hub.OnGuestShutdown();
  hub.OnGuestLogoff(vmLogoff_Normal);
}

TEST_F(ApiVirtualMachine, EverySubscriberOfEveryCallerGetsTheEvent) {
  auto a = rig.open_vm();
  auto b = rig.open_vm(CallerIdentity{0, 0, {}});
  auto sink_a = std::make_shared<StrictMock<testing::MockEventSink>>();
  auto sink_b = std::make_shared<StrictMock<testing::MockEventSink>>();
  ASSERT_EQ(a->Subscribe(sink_a), S_OK);
  ASSERT_EQ(b->Subscribe(sink_b), S_OK);
  EXPECT_CALL(*sink_a, OnHeartbeatStopped()).WillOnce(Return(S_OK));
  EXPECT_CALL(*sink_b, OnHeartbeatStopped()).WillOnce(Return(S_OK));
  rig.state->events().OnHeartbeatStopped();
}

TEST_F(ApiVirtualMachine, UnsubscribeAndDestructionStopDelivery) {
  auto sink = std::make_shared<StrictMock<testing::MockEventSink>>();
  auto vm = rig.open_vm();
  ASSERT_EQ(vm->Subscribe(sink), S_OK);
  ASSERT_EQ(vm->Unsubscribe(sink), S_OK);
  EXPECT_EQ(vm->Unsubscribe(sink), S_FALSE);
  EXPECT_EQ(vm->Subscribe(nullptr), E_POINTER);
  rig.state->events().OnTripleFault();  // StrictMock: nothing may arrive

  ASSERT_EQ(vm->Subscribe(sink), S_OK);
  EXPECT_EQ(rig.state->events().subscriber_count(), 1u);
  vm.reset();
  EXPECT_EQ(rig.state->events().subscriber_count(), 0u);
  rig.state->events().OnTripleFault();
}

TEST_F(ApiVirtualMachine, RevokedSubscriberStopsReceivingEvents) {
  ON_CALL(*rig.host, granted_uids()).WillByDefault(Return(std::vector<uint32_t>{2000}));
  auto vm = rig.open_vm(ApiRig::stranger());
  auto sink = std::make_shared<StrictMock<testing::MockEventSink>>();
  ASSERT_EQ(vm->Subscribe(sink), S_OK);
  EXPECT_CALL(*sink, OnGuestShutdown()).WillOnce(Return(S_OK));
  rig.state->events().OnGuestShutdown();
  ON_CALL(*rig.host, granted_uids()).WillByDefault(Return(std::vector<uint32_t>{}));
  rig.state->events().OnGuestShutdown();  // not delivered, and not audited as a call
  EXPECT_TRUE(rig.audit_lines.empty());
}

TEST_F(ApiVirtualMachine, SinkMayUnsubscribeFromInsideAnEvent) {
  auto vm = rig.open_vm();
  auto sink = std::make_shared<StrictMock<testing::MockEventSink>>();
  ASSERT_EQ(vm->Subscribe(sink), S_OK);
  EXPECT_CALL(*sink, OnAdditionsAvailable()).WillOnce([&] { return vm->Unsubscribe(sink); });
  rig.state->events().OnAdditionsAvailable();
  rig.state->events().OnAdditionsAvailable();
}

}  // namespace
}  // namespace kvpc
