#include <gtest/gtest.h>

#include "integration/hresult.h"

namespace kvpc {
namespace {

TEST(Hresult, EveryConstantHasANameAndASentence) {
  for (HRESULT value : {S_OK, S_FALSE, E_NOTIMPL, E_POINTER, E_FAIL, E_INVALIDARG, DISP_E_EXCEPTION, E_ACCESSDENIED,
                        E_NOT_READY, E_BUSY, E_SHUTDOWN_IN_PROGRESS, E_MACHINE_LOCKED, E_NO_SUCH_LOGON_SESSION,
                        E_INVALID_STATE, VM_E_TIMED_OUT, VM_E_VM_NOT_RUNNING, VM_E_VM_UNKNOWN,
                        VM_E_ADDITIONS_NOT_AVAIL, VM_E_ADDITIONS_FEATURE_NOT_AVAIL, VM_E_VM_PAUSED}) {
    EXPECT_FALSE(hresult_name(value).empty()) << hresult_hex(value);
    EXPECT_EQ(hresult_message(value).back(), '.') << hresult_hex(value);
  }
}

TEST(Hresult, FormatsAsNameAndHex) {
  EXPECT_EQ(hresult_hex(E_NO_SUCH_LOGON_SESSION), "0x80070520");
  EXPECT_EQ(describe_hresult(E_NO_SUCH_LOGON_SESSION), "HRESULT_FROM_WIN32(ERROR_NO_SUCH_LOGON_SESSION) (0x80070520)");
  EXPECT_EQ(describe_hresult(VM_E_TIMED_OUT), "VM_E_TIMED_OUT (0xA0040202)");
  EXPECT_EQ(describe_hresult(hr(0x80001234)), "0x80001234");
  EXPECT_EQ(hresult_name(hr(0x80001234)), "");
  EXPECT_EQ(hresult_message(E_NO_SUCH_LOGON_SESSION), "Nobody is logged on to the guest operating system.");
}

}  // namespace
}  // namespace kvpc
