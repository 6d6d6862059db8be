// IVMGuestOS properties: the HRESULT each answers with no agent, with an agent that did not
// report it, with the VM not running, with a NULL out pointer; and the values a complete agent
// yields. Table-driven: one row per property.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "tests/unit/integration/api_test_doubles.h"

namespace kvpc {
namespace {

using ::testing::_;
using ::testing::Return;
using testing::ApiRig;

// One property: how to read it (into a throwaway value, or with a NULL out pointer when
// `null_out`), and what it answers when the guest agent is absent.
struct PropertyRow {
  const char* name;
  std::function<HRESULT(IVMGuestOS&, bool null_out)> read;
  HRESULT without_agent;
  const char* os_info_key;  // nullptr: not an os-info value
};

template <typename T>
std::function<HRESULT(IVMGuestOS&, bool)> reader(HRESULT (IVMGuestOS::*getter)(T*)) {
  return [getter](IVMGuestOS& guest, bool null_out) {
    T value{};
    return (guest.*getter)(null_out ? nullptr : &value);
  };
}

const PropertyRow kRows[] = {
    {"HeartbeatPercentage", reader(&IVMGuestOS::get_HeartbeatPercentage), VM_E_ADDITIONS_NOT_AVAIL, nullptr},
    {"IsHeartbeating", reader(&IVMGuestOS::get_IsHeartbeating), VM_E_ADDITIONS_NOT_AVAIL, nullptr},
    {"OSName", reader(&IVMGuestOS::get_OSName), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "OSName"},
    {"IntegrationComponentsVersion", reader(&IVMGuestOS::get_IntegrationComponentsVersion),
     VM_E_ADDITIONS_NOT_AVAIL, "IntegrationComponentsVersion"},
    {"TerminalServicesInitialized", reader(&IVMGuestOS::get_TerminalServicesInitialized),
     VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "TerminalServicesInitialized"},
    {"MultipleUserSessionsAllowed", reader(&IVMGuestOS::get_MultipleUserSessionsAllowed),
     VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "MultipleUserSessionsAllowed"},
    {"TerminalServerPort", reader(&IVMGuestOS::get_TerminalServerPort), VM_E_ADDITIONS_FEATURE_NOT_AVAIL,
     "TerminalServerPort"},
    {"OSMajorVersion", reader(&IVMGuestOS::get_OSMajorVersion), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "OSMajorVersion"},
    {"OSMinorVersion", reader(&IVMGuestOS::get_OSMinorVersion), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "OSMinorVersion"},
    {"OSBuildNumber", reader(&IVMGuestOS::get_OSBuildNumber), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "OSBuildNumber"},
    {"OSVersion", reader(&IVMGuestOS::get_OSVersion), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "OSVersion"},
    {"OSPlatformId", reader(&IVMGuestOS::get_OSPlatformId), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "OSPlatformId"},
    {"CSDVersion", reader(&IVMGuestOS::get_CSDVersion), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "CSDVersion"},
    {"ServicePackMajor", reader(&IVMGuestOS::get_ServicePackMajor), VM_E_ADDITIONS_FEATURE_NOT_AVAIL,
     "ServicePackMajor"},
    {"ServicePackMinor", reader(&IVMGuestOS::get_ServicePackMinor), VM_E_ADDITIONS_FEATURE_NOT_AVAIL,
     "ServicePackMinor"},
    {"SuiteMask", reader(&IVMGuestOS::get_SuiteMask), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "SuiteMask"},
    {"ProductType", reader(&IVMGuestOS::get_ProductType), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "ProductType"},
    {"ComputerName", reader(&IVMGuestOS::get_ComputerName), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "ComputerName"},
    {"ScreenLocked", reader(&IVMGuestOS::get_ScreenLocked), VM_E_ADDITIONS_FEATURE_NOT_AVAIL, "ScreenLocked"},
};

class ApiProperty : public ::testing::TestWithParam<PropertyRow> {
 protected:
  ApiRig rig;
  std::shared_ptr<IVMGuestOS> guest = rig.guest_os();
};

TEST_P(ApiProperty, CompleteAgentAnswersSOk) {
  EXPECT_EQ(GetParam().read(*guest, false), S_OK);
}

TEST_P(ApiProperty, AbsentAgentAnswersTheContractsHresult) {
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(false));
  EXPECT_EQ(GetParam().read(*guest, false), GetParam().without_agent);
}

TEST_P(ApiProperty, KeyTheAgentDidNotReportIsFeatureNotAvailable) {
  auto info = testing::complete_os_info();
  if (!GetParam().os_info_key) {
    // The heartbeat does not come from os-info: it answers without any.
    ON_CALL(*rig.services, os_info()).WillByDefault(Return(std::map<std::string, std::string>{}));
    EXPECT_EQ(GetParam().read(*guest, false), S_OK);
    return;
  }
  info.erase(GetParam().os_info_key);
  ON_CALL(*rig.services, os_info()).WillByDefault(Return(info));
  EXPECT_EQ(GetParam().read(*guest, false), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST_P(ApiProperty, NullOutPointerIsEPointer) {
  EXPECT_EQ(GetParam().read(*guest, true), E_POINTER);
}

TEST_P(ApiProperty, VmNotRunningOrPausedIsVmNotRunning) {
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_TurnedOff));
  EXPECT_EQ(GetParam().read(*guest, false), VM_E_VM_NOT_RUNNING);
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_Paused));
  EXPECT_EQ(GetParam().read(*guest, false), VM_E_VM_NOT_RUNNING);
}

TEST_P(ApiProperty, UnknownVmIsVmUnknown) {
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  EXPECT_EQ(GetParam().read(*guest, false), VM_E_VM_UNKNOWN);
}

TEST_P(ApiProperty, RevokedCallerIsAccessDenied) {
  ON_CALL(*rig.host, owner_uid()).WillByDefault(Return(4242));
  EXPECT_EQ(GetParam().read(*guest, false), E_ACCESSDENIED);
  EXPECT_EQ(rig.audit_lines.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(ApiEveryProperty, ApiProperty, ::testing::ValuesIn(kRows),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// --- Values ------------------------------------------------------------------------------------

class ApiPropertyValues : public ::testing::Test {
 protected:
  ApiRig rig;
  std::shared_ptr<IVMGuestOS> guest = rig.guest_os();
};

TEST_F(ApiPropertyValues, VersionPropertiesAreTheAgentsStrings) {
  std::string text;
  ASSERT_EQ(guest->get_OSMajorVersion(&text), S_OK);
  EXPECT_EQ(text, "6");
  ASSERT_EQ(guest->get_OSBuildNumber(&text), S_OK);
  EXPECT_EQ(text, "7601");
  ASSERT_EQ(guest->get_SuiteMask(&text), S_OK);
  EXPECT_EQ(text, "0x0110");  // passed through as reported, not reformatted
  ASSERT_EQ(guest->get_CSDVersion(&text), S_OK);
  EXPECT_EQ(text, "Service Pack 1");
  ASSERT_EQ(guest->get_ComputerName(&text), S_OK);
  EXPECT_EQ(text, "guest1");
  ASSERT_EQ(guest->get_IntegrationComponentsVersion(&text), S_OK);
  EXPECT_EQ(text, "1.0.0");
}

TEST_F(ApiPropertyValues, HeartbeatComesFromGuestServices) {
  long percent = 0;
  bool beating = false;
  ASSERT_EQ(guest->get_HeartbeatPercentage(&percent), S_OK);
  ASSERT_EQ(guest->get_IsHeartbeating(&beating), S_OK);
  EXPECT_EQ(percent, 90);
  EXPECT_TRUE(beating);
}

TEST_F(ApiPropertyValues, HeartbeatWithoutTheFeatureOrChannelIsAdditionsNotAvailable) {
  long percent = 0;
  ON_CALL(*rig.services, agent_features())
      .WillByDefault(Return(testing::kAllFeatures & ~uint32_t{kFeatureHeartbeat}));
  EXPECT_EQ(guest->get_HeartbeatPercentage(&percent), VM_E_ADDITIONS_NOT_AVAIL);
  ON_CALL(*rig.services, agent_features()).WillByDefault(Return(testing::kAllFeatures));
  ON_CALL(*rig.services, channel_ready(1)).WillByDefault(Return(false));
  EXPECT_EQ(guest->get_HeartbeatPercentage(&percent), VM_E_ADDITIONS_NOT_AVAIL);
}

TEST_F(ApiPropertyValues, BooleansParseAndGarbageIsNotAValue) {
  bool value = true;
  ASSERT_EQ(guest->get_ScreenLocked(&value), S_OK);
  EXPECT_FALSE(value);
  ASSERT_EQ(guest->get_TerminalServicesInitialized(&value), S_OK);
  EXPECT_TRUE(value);
  auto info = testing::complete_os_info();
  info["ScreenLocked"] = "maybe";
  ON_CALL(*rig.services, os_info()).WillByDefault(Return(info));
  EXPECT_EQ(guest->get_ScreenLocked(&value), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST_F(ApiPropertyValues, TerminalServerPortIsSFalseWhileTerminalServicesAreNotInitialized) {
  long port = 0;
  ASSERT_EQ(guest->get_TerminalServerPort(&port), S_OK);
  EXPECT_EQ(port, 3389);
  auto info = testing::complete_os_info();
  info["TerminalServicesInitialized"] = "0";
  ON_CALL(*rig.services, os_info()).WillByDefault(Return(info));
  EXPECT_EQ(guest->get_TerminalServerPort(&port), S_FALSE);
  EXPECT_EQ(port, 3389);
  info["TerminalServerPort"] = "70000";
  ON_CALL(*rig.services, os_info()).WillByDefault(Return(info));
  EXPECT_EQ(guest->get_TerminalServerPort(&port), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST_F(ApiPropertyValues, CanShutdownIsSFalseWhileTheVmIsOff) {
  bool can = true;
  for (VMVMState off : {vmVMState_TurnedOff, vmVMState_Saved, vmVMState_Invalid}) {
    ON_CALL(*rig.host, state()).WillByDefault(Return(off));
    can = true;
    EXPECT_EQ(guest->get_CanShutdown(&can), S_FALSE) << testing::state_name(off);
    EXPECT_FALSE(can);
  }
}

TEST_F(ApiPropertyValues, CanShutdownFollowsTheAgentWhileTheVmIsOn) {
  bool can = false;
  ASSERT_EQ(guest->get_CanShutdown(&can), S_OK);
  EXPECT_TRUE(can);
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(false));
  ASSERT_EQ(guest->get_CanShutdown(&can), S_OK);  // no error: just "no"
  EXPECT_FALSE(can);
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(true));
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_Paused));
  ASSERT_EQ(guest->get_CanShutdown(&can), S_OK);
  EXPECT_FALSE(can);
  EXPECT_EQ(guest->get_CanShutdown(nullptr), E_POINTER);
}

TEST_F(ApiPropertyValues, TimeSyncReadsInAnyStateAndWritesOnlyWhileTurnedOff) {
  bool enabled = false;
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_Saved));
  ASSERT_EQ(guest->get_IsHostTimeSyncEnabled(&enabled), S_OK);
  EXPECT_TRUE(enabled);
  EXPECT_EQ(guest->get_IsHostTimeSyncEnabled(nullptr), E_POINTER);

  EXPECT_CALL(*rig.services, set_time_sync_enabled(_)).Times(0);
  for (VMVMState active : {vmVMState_Running, vmVMState_Saved, vmVMState_Paused, vmVMState_TurningOn}) {
    ON_CALL(*rig.host, state()).WillByDefault(Return(active));
    EXPECT_EQ(guest->put_IsHostTimeSyncEnabled(false), E_INVALID_STATE) << testing::state_name(active);
  }
  ::testing::Mock::VerifyAndClearExpectations(rig.services.get());

  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_TurnedOff));
  EXPECT_CALL(*rig.services, set_time_sync_enabled(false)).Times(1);
  EXPECT_EQ(guest->put_IsHostTimeSyncEnabled(false), S_OK);
}

TEST_F(ApiPropertyValues, TimeSyncOnUnknownVmIsVmUnknown) {
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  bool enabled = false;
  EXPECT_EQ(guest->get_IsHostTimeSyncEnabled(&enabled), VM_E_VM_UNKNOWN);
  EXPECT_EQ(guest->put_IsHostTimeSyncEnabled(true), VM_E_VM_UNKNOWN);
}

}  // namespace
}  // namespace kvpc
