// The per-user runtime folder that holds one control socket per running VM.
//
// $XDG_RUNTIME_DIR/kvpc when XDG_RUNTIME_DIR is set, else /tmp/kvpc-<uid>; overridable
// with KVPC_RUNTIME_DIR (tests use it). The folder is created 0700 and must be owned by
// the user and not a symlink, so no other user can plant or read sockets in it.
#pragma once

#include <string>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

// The folder path (not created).
std::string runtime_dir_path();
// Creates the folder if needed and checks its owner and mode.
Result<std::string> ensure_runtime_dir();
// The socket path for VM `name` inside `dir`.
std::string socket_path_for(const std::string& dir, const std::string& name);
// Names of VMs with a socket in `dir` (live or stale; callers probe).
std::vector<std::string> list_vm_sockets(const std::string& dir);
// A VM name is 1-64 characters of [A-Za-z0-9._-], not starting with '.'.
Status validate_vm_name(const std::string& name);

}  // namespace kvpc
