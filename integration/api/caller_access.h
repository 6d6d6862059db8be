// The "Who may call" Decision of CONTRACT.md, applied by every member of VMVirtualMachine and
// IVMGuestOS before anything else but argument checks.
//
// Concurrency contract: pure functions of their arguments plus VmHost reads (thread-safe).
#pragma once

#include <string>
#include <string_view>

#include "integration/api/vm_host.h"
#include "integration/hresult.h"

namespace kvpc {

// root, the owner, a granted uid, or a member (primary or supplementary) of a granted gid.
bool caller_may_use(const VmHost& host, const CallerIdentity& caller);

// S_OK, or E_ACCESSDENIED (HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)) after writing an audit line
// naming the caller, the VM and `member` ("IVMGuestOS::Logoff").
HRESULT check_caller_access(VmHost& host, const CallerIdentity& caller, std::string_view member);

// "access denied: uid=1001 gid=1001 groups=27,100 vm='vm1' member=IVMGuestOS::Logoff -> ..."
std::string access_denied_audit_line(const VmHost& host, const CallerIdentity& caller,
                                     std::string_view member);

}  // namespace kvpc
