// The runtime folder's access ACL, kept equal to what the control sockets in it grant.
//
// A VM started with --allow-user/--allow-group gives those users read/write on its own socket
// (an ACL on the socket) and search ("x") on the per-user runtime folder, without which no
// socket inside can be reached. The folder is shared by all of the user's VMs, so its grants
// are derived, never accumulated: sync_runtime_folder_acl() sets the folder's ACL to search for
// exactly the users and groups named in some socket's ACL in it (and to the plain 0700 mode
// when there are none). A VM calls it after granting its socket and again after removing it,
// so a grant ends with the last VM that made it.
//
// Concurrency contract: several kvpc processes of the same user may call this at once. Each
// call holds an exclusive flock(2) on the folder while it reads the sockets and writes the
// folder's ACL, so the last writer always sees every socket granted before it began (a VM
// writes its socket's ACL before its call). A socket left behind by a killed kvpc keeps its
// grant in the folder until it is removed (the next `kvpc run` of that name replaces it) and a
// later call recomputes.
#pragma once

#include <string>

#include "vmm/result.h"

namespace kvpc {

Status sync_runtime_folder_acl(const std::string& dir);

}  // namespace kvpc
