// Grants named users and groups access to one file through a POSIX access ACL (acl(5)), so
// kvpc never has to open a file to "other" to share it: the control socket of a VM started
// with --allow-user/--allow-group, and the runtime folder that holds it.
//
// The ACL is written as the kernel's "system.posix_acl_access" extended attribute
// (linux/posix_acl_xattr.h: a version header, then entries sorted by tag and id), which is
// what libacl's acl_set_file() does underneath; no library needed. The file's own mode bits
// keep the owner's permissions, the owning group and "other" get nothing, and the mask is
// exactly the granted permission.
//
// A file system without ACL support (EOPNOTSUPP) is an error: kvpc then refuses the grant
// rather than falling back to a world-accessible mode.
//
// Concurrency contract: plain system calls on a path; callers serialise writes to one path
// (the shared runtime folder's ACL is written under its lock: tools/runtime_folder_acl.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

// Permission bits as in the ACL: read 4, write 2, execute 1.
struct AclGrant {
  std::vector<uint32_t> uids;
  std::vector<uint32_t> gids;
  uint16_t permission = 0;
};

// Replaces `path`'s access ACL: owner `owner_permission`, each granted user and group
// `grant.permission`, nobody else anything. Grants naming the file's owner are dropped (the
// owner entry covers them).
Status set_access_acl(const std::string& path, uint16_t owner_permission, const AclGrant& grant);

// One entry of an access ACL, for tests and messages.
struct AclEntry {
  uint16_t tag;  // ACL_USER_OBJ, ACL_USER, ... (linux/posix_acl.h)
  uint16_t permission;
  uint32_t id;  // uid/gid for ACL_USER/ACL_GROUP, else ACL_UNDEFINED_ID
  bool operator==(const AclEntry&) const = default;
};

// The access ACL of `path`; an empty list when it has none (mode bits only).
Result<std::vector<AclEntry>> read_access_acl(const std::string& path);

// The xattr bytes for `entries` (sorted and checked: one USER_OBJ, GROUP_OBJ, OTHER, a MASK
// when there are named entries, no duplicate ids), and back.
Result<std::vector<uint8_t>> encode_access_acl(std::vector<AclEntry> entries);
Result<std::vector<AclEntry>> decode_access_acl(const std::vector<uint8_t>& bytes);

}  // namespace kvpc
