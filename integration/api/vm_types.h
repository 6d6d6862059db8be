// The enumerations and the one structure of Windows Virtual PC's COM API (VPCCOMInterfaces.h)
// that kvpc's IVMGuestOS / IVMTask / VMVirtualMachine use, with the SDK's names and values, so a
// Virtual PC automation script ports to kvpc line by line (docs/api.md).
//
// Concurrency contract: plain values; nothing here has state.
#pragma once

#include <cstdint>
#include <string>

#include "integration/hresult.h"

namespace kvpc {

// IVMVirtualMachine::State.
enum VMVMState : int32_t {
  vmVMState_Invalid = 0,
  vmVMState_TurnedOff = 1,
  vmVMState_Saved = 2,
  vmVMState_TurningOn = 3,
  vmVMState_Restoring = 4,
  vmVMState_Running = 5,
  vmVMState_Paused = 6,
  vmVMState_Saving = 7,
  vmVMState_TurningOff = 8,
  vmVMState_MergingDrives = 9,
  vmVMState_DeleteMachine = 10,
};

// IVMTask::Result. kvpc's guest operations end in Success, TimeOutError or UnexpectedError;
// the other values exist so scripts that name them still compile.
enum VMTaskResult : int32_t {
  vmTaskResult_Success = 0,
  vmTaskResult_Cancelled = 1,
  vmTaskResult_UnexpectedError = 2,
  vmTaskResult_OutOfMemoryError = 3,
  vmTaskResult_DiskRelatedError = 4,
  vmTaskResult_IncompatibleSavedStateError = 5,
  vmTaskResult_TimeOutError = 6,
  vmTaskResult_IllegalValueError = 7,
  vmTaskResult_ThreadCrashError = 8,
  vmTaskResult_ShutdownAbort = 9,
};

// IVMVirtualMachineEvents::OnGuestLogoff. External = the logoff was requested through
// IVMGuestOS::Logoff (this API); Normal/Forced are logoffs the guest started itself.
enum VMLogoffType : int32_t {
  vmLogoff_Normal = 0,
  vmLogoff_Forced = 1,
  vmLogoff_External = 2,
};

// IVMGuestOS::GetOsVersionInfo. The SDK's layout with portable types: `long` is 32-bit in the
// SDK, so int32_t; szCSDVersion is UTF-8 instead of wchar_t[128].
struct GUESTOSVERSIONINFOEX {
  int32_t dwOSVersionInfoSize = sizeof(GUESTOSVERSIONINFOEX);
  int32_t dwMajorVersion = 0;
  int32_t dwMinorVersion = 0;
  int32_t dwBuildNumber = 0;
  int32_t dwPlatformId = 0;
  std::string szCSDVersion;
  int16_t wServicePackMajor = 0;
  int16_t wServicePackMinor = 0;
  int16_t wSuiteMask = 0;
  uint8_t wProductType = 0;
  uint8_t wReserved = 0;
};

// HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND): Virtual PC's answer to InstallIntegrationComponents
// when "the system cannot find the ISO file for the Integration Components". kvpc ships no ISO
// (the agent is installed in the guest image), so that is always its answer (docs/api.md).
// Named here, not in hresult.h, because only this API uses it.
inline constexpr HRESULT E_IC_ISO_NOT_FOUND = hr(0x80070002);

}  // namespace kvpc
