#include "integration/api/caller_access.h"

#include <algorithm>

namespace kvpc {
namespace {

bool contains(const std::vector<uint32_t>& ids, uint32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

bool caller_may_use(const VmHost& host, const CallerIdentity& caller) {
  if (caller.uid == 0 || caller.uid == host.owner_uid()) return true;
  if (contains(host.granted_uids(), caller.uid)) return true;
  const std::vector<uint32_t> groups = host.granted_gids();
  if (contains(groups, caller.gid)) return true;
  return std::any_of(caller.supplementary_gids.begin(), caller.supplementary_gids.end(),
                     [&](uint32_t gid) { return contains(groups, gid); });
}

std::string access_denied_audit_line(const VmHost& host, const CallerIdentity& caller,
                                     std::string_view member) {
  std::string groups;
  for (uint32_t gid : caller.supplementary_gids) {
    if (!groups.empty()) groups += ',';
    groups += std::to_string(gid);
  }
  return "access denied: uid=" + std::to_string(caller.uid) + " gid=" + std::to_string(caller.gid) +
         " groups=" + (groups.empty() ? "-" : groups) + " vm='" + host.name() +
         "' member=" + std::string(member) + " -> " + describe_hresult(E_ACCESSDENIED);
}

HRESULT check_caller_access(VmHost& host, const CallerIdentity& caller, std::string_view member) {
  if (caller_may_use(host, caller)) return S_OK;
  host.audit(access_denied_audit_line(host, caller, member));
  return E_ACCESSDENIED;
}

}  // namespace kvpc
