// The IVMGuestOS methods besides Logoff/Shutdown/Restart: SetParameter/GetParameter (name
// rules: 0, 1, 255, 256 characters, backslash), GetOsVersionInfo, IsUserLoggedOn,
// InstallIntegrationComponents.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/integration/api_test_doubles.h"
#include "integration/api/os_info_values.h"

namespace kvpc {
namespace {

using ::testing::Return;
using testing::ApiRig;

class ApiGuestMethods : public ::testing::Test {
 protected:
  ApiRig rig;
  std::shared_ptr<IVMGuestOS> guest = rig.guest_os();
};

// --- Parameters --------------------------------------------------------------------------------

TEST_F(ApiGuestMethods, ParameterNameOfZeroCharactersIsInvalidArg) {
  std::string value;
  EXPECT_EQ(guest->SetParameter("", "v"), E_INVALIDARG);
  EXPECT_EQ(guest->GetParameter("", &value), E_INVALIDARG);
}

TEST_F(ApiGuestMethods, ParameterNameOfOneCharacterIsAccepted) {
  std::string value;
  EXPECT_EQ(guest->SetParameter("a", "v"), S_OK);
  EXPECT_EQ(guest->GetParameter("a", &value), S_OK);
  EXPECT_EQ(value, "v");
}

TEST_F(ApiGuestMethods, ParameterNameOf255CharactersIsAccepted) {
  const std::string name(255, 'n');
  std::string value;
  EXPECT_EQ(guest->SetParameter(name, "v"), S_OK);
  EXPECT_EQ(guest->GetParameter(name, &value), S_OK);
}

TEST_F(ApiGuestMethods, ParameterNameOf256CharactersIsInvalidArg) {
  const std::string name(256, 'n');
  std::string value;
  EXPECT_EQ(guest->SetParameter(name, "v"), E_INVALIDARG);
  EXPECT_EQ(guest->GetParameter(name, &value), E_INVALIDARG);
}

TEST_F(ApiGuestMethods, ParameterNameWithABackslashIsInvalidArg) {
  std::string value;
  EXPECT_EQ(guest->SetParameter("Parameters\\HostName", "v"), E_INVALIDARG);
  EXPECT_EQ(guest->GetParameter("\\", &value), E_INVALIDARG);
}

TEST_F(ApiGuestMethods, ParameterNameCountsCharactersNotBytes) {
  std::string name;
  for (int i = 0; i < 255; ++i) name += "\xC3\xA9";  // 255 x U+00E9: 510 bytes
  EXPECT_EQ(guest->SetParameter(name, "v"), S_OK);
  EXPECT_EQ(guest->SetParameter(name + "\xC3\xA9", "v"), E_INVALIDARG);
  EXPECT_EQ(guest->SetParameter(std::string("a\0b", 3), "v"), E_INVALIDARG);
}

TEST_F(ApiGuestMethods, ParameterNamesIgnoreCaseLikeRegistryValueNames) {
  std::string value;
  ASSERT_EQ(guest->SetParameter("HostName", "first"), S_OK);
  ASSERT_EQ(guest->SetParameter("HOSTNAME", "second"), S_OK);
  EXPECT_EQ(guest->GetParameter("hostname", &value), S_OK);
  EXPECT_EQ(value, "second");
  EXPECT_EQ(rig.state->parameters().size(), 1u);
}

TEST_F(ApiGuestMethods, UnsetParameterIsSFalseAndEmpty) {
  std::string value = "stale";
  EXPECT_EQ(guest->GetParameter("never", &value), S_FALSE);
  EXPECT_EQ(value, "");
  EXPECT_EQ(guest->GetParameter("never", nullptr), E_POINTER);
}

TEST_F(ApiGuestMethods, ParametersAreSharedByEveryCallerOfTheVmAndWorkWhileOff) {
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_TurnedOff));
  ASSERT_EQ(guest->SetParameter("Role", "build"), S_OK);
  ON_CALL(*rig.host, granted_gids()).WillByDefault(Return(std::vector<uint32_t>{2001}));
  auto other = rig.guest_os(ApiRig::stranger());  // allowed through supplementary group 2001
  std::string value;
  EXPECT_EQ(other->GetParameter("role", &value), S_OK);
  EXPECT_EQ(value, "build");
}

TEST_F(ApiGuestMethods, ParameterChecksComeAfterArgumentsAndBeforeTheVm) {
  ON_CALL(*rig.host, owner_uid()).WillByDefault(Return(4242));
  EXPECT_EQ(guest->SetParameter("", "v"), E_INVALIDARG);  // arguments first
  EXPECT_EQ(guest->SetParameter("a", "v"), E_ACCESSDENIED);
  ON_CALL(*rig.host, owner_uid()).WillByDefault(Return(testing::kOwnerUid));
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  EXPECT_EQ(guest->SetParameter("a", "v"), VM_E_VM_UNKNOWN);
}

TEST_F(ApiGuestMethods, ParameterStoreIsBounded) {
  EXPECT_EQ(guest->SetParameter("big", std::string(GuestParameterStore::kMaxValueBytes + 1, 'x')),
            E_INVALIDARG);
  for (size_t i = 0; i < GuestParameterStore::kMaxParameters; ++i) {
    ASSERT_EQ(guest->SetParameter("p" + std::to_string(i), "v"), S_OK);
  }
  EXPECT_EQ(guest->SetParameter("one-too-many", "v"), E_INVALIDARG);
  EXPECT_EQ(guest->SetParameter("p0", "replaced"), S_OK);  // existing names still update
}

// --- GetOsVersionInfo --------------------------------------------------------------------------

TEST_F(ApiGuestMethods, GetOsVersionInfoFillsEveryFieldFromTheAgent) {
  GUESTOSVERSIONINFOEX info;
  ASSERT_EQ(guest->GetOsVersionInfo(&info), S_OK);
  EXPECT_EQ(info.dwOSVersionInfoSize, static_cast<int32_t>(sizeof(GUESTOSVERSIONINFOEX)));
  EXPECT_EQ(info.dwMajorVersion, 6);
  EXPECT_EQ(info.dwMinorVersion, 1);
  EXPECT_EQ(info.dwBuildNumber, 7601);
  EXPECT_EQ(info.dwPlatformId, 2);
  EXPECT_EQ(info.szCSDVersion, "Service Pack 1");
  EXPECT_EQ(info.wServicePackMajor, 1);
  EXPECT_EQ(info.wServicePackMinor, 0);
  EXPECT_EQ(info.wSuiteMask, 0x0110);
  EXPECT_EQ(info.wProductType, 1);
}

TEST_F(ApiGuestMethods, GetOsVersionInfoWithAMissingOrBadKeyIsFeatureNotAvailable) {
  GUESTOSVERSIONINFOEX info;
  auto partial = testing::complete_os_info();
  partial.erase("ServicePackMinor");
  ON_CALL(*rig.services, os_info()).WillByDefault(Return(partial));
  EXPECT_EQ(guest->GetOsVersionInfo(&info), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  auto bad = testing::complete_os_info();
  bad["OSMajorVersion"] = "six";
  ON_CALL(*rig.services, os_info()).WillByDefault(Return(bad));
  EXPECT_EQ(guest->GetOsVersionInfo(&info), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
}

TEST_F(ApiGuestMethods, GetOsVersionInfoRows) {
  GUESTOSVERSIONINFOEX info;
  EXPECT_EQ(guest->GetOsVersionInfo(nullptr), E_POINTER);
  ON_CALL(*rig.services, agent_present()).WillByDefault(Return(false));
  EXPECT_EQ(guest->GetOsVersionInfo(&info), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_Paused));
  EXPECT_EQ(guest->GetOsVersionInfo(&info), VM_E_VM_NOT_RUNNING);
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  EXPECT_EQ(guest->GetOsVersionInfo(&info), VM_E_VM_UNKNOWN);
}

TEST(ApiOsInfoValues, IntegersAndBooleansParseStrictly) {
  EXPECT_EQ(parse_guest_integer("42", 0, 100), 42);
  EXPECT_EQ(parse_guest_integer("0x8000", 0, 0xFFFF), 0x8000);
  EXPECT_EQ(parse_guest_integer("-1", -5, 5), std::nullopt);
  EXPECT_EQ(parse_guest_integer("101", 0, 100), std::nullopt);
  EXPECT_EQ(parse_guest_integer("4x", 0, 100), std::nullopt);
  EXPECT_EQ(parse_guest_integer("", 0, 100), std::nullopt);
  EXPECT_EQ(parse_guest_integer("0x", 0, 100), std::nullopt);
  EXPECT_EQ(parse_guest_bool("TRUE"), true);
  EXPECT_EQ(parse_guest_bool("no"), false);
  EXPECT_EQ(parse_guest_bool(""), std::nullopt);
}

// --- IsUserLoggedOn ----------------------------------------------------------------------------

TEST_F(ApiGuestMethods, IsUserLoggedOnForRdpAnswersFromTheSessionList) {
  bool present = false;
  ASSERT_EQ(guest->IsUserLoggedOn(1, &present), S_OK);
  EXPECT_TRUE(present);
  ON_CALL(*rig.services, sessions())
      .WillByDefault(Return(std::optional<std::vector<std::string>>(std::vector<std::string>{})));
  ASSERT_EQ(guest->IsUserLoggedOn(1, &present), S_OK);
  EXPECT_FALSE(present);
}

TEST_F(ApiGuestMethods, IsUserLoggedOnRows) {
  bool present = false;
  EXPECT_EQ(guest->IsUserLoggedOn(1, nullptr), E_POINTER);
  EXPECT_EQ(guest->IsUserLoggedOn(2, &present), E_INVALIDARG);
  EXPECT_EQ(guest->IsUserLoggedOn(0, &present), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);  // no RAIL
  ON_CALL(*rig.services, sessions()).WillByDefault(Return(std::nullopt));
  EXPECT_EQ(guest->IsUserLoggedOn(1, &present), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  ON_CALL(*rig.services, agent_features())
      .WillByDefault(Return(testing::kAllFeatures & ~uint32_t{kFeatureSessionList}));
  EXPECT_EQ(guest->IsUserLoggedOn(1, &present), VM_E_ADDITIONS_FEATURE_NOT_AVAIL);
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_Paused));
  EXPECT_EQ(guest->IsUserLoggedOn(1, &present), VM_E_VM_PAUSED);  // documented for this member
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_Saved));
  EXPECT_EQ(guest->IsUserLoggedOn(1, &present), VM_E_VM_NOT_RUNNING);
}

// --- InstallIntegrationComponents --------------------------------------------------------------

TEST_F(ApiGuestMethods, InstallIntegrationComponentsHasNoIsoToMount) {
  EXPECT_EQ(guest->InstallIntegrationComponents(), E_IC_ISO_NOT_FOUND);
  EXPECT_EQ(E_IC_ISO_NOT_FOUND, hr(0x80070002));
  ON_CALL(*rig.host, state()).WillByDefault(Return(vmVMState_TurnedOff));
  EXPECT_EQ(guest->InstallIntegrationComponents(), VM_E_VM_NOT_RUNNING);
  ON_CALL(*rig.host, known()).WillByDefault(Return(false));
  EXPECT_EQ(guest->InstallIntegrationComponents(), VM_E_VM_UNKNOWN);
}

}  // namespace
}  // namespace kvpc
