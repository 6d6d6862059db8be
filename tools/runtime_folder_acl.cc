#include "tools/runtime_folder_acl.h"

#include <fcntl.h>
#include <linux/posix_acl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "tools/access_acl.h"
#include "tools/runtime_dir.h"
#include "vmm/unique_fd.h"

namespace kvpc {
namespace {

void add_unique(std::vector<uint32_t>& ids, uint32_t id) {
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

}  // namespace

Status sync_runtime_folder_acl(const std::string& dir) {
  UniqueFd folder(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!folder.valid()) return make_error(fmt::format("{}: cannot open the runtime folder: {}", dir, std::strerror(errno)));
  // Serialises the read of every socket's grants with the write of the folder's ACL across
  // the user's kvpc processes; released when `folder` is closed.
  while (::flock(folder.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return make_error(fmt::format("{}: cannot lock the runtime folder: {}", dir, std::strerror(errno)));
  }

  AclGrant needed;
  needed.permission = 1;  // search: reach a socket by its name, not list or create
  for (const auto& name : list_vm_sockets(dir)) {
    auto entries = read_access_acl(socket_path_for(dir, name));
    if (!entries) continue;  // removed since the listing, or unreadable: grants nothing
    for (const auto& entry : *entries) {
      if (entry.permission == 0) continue;
      if (entry.tag == ACL_USER) add_unique(needed.uids, entry.id);
      if (entry.tag == ACL_GROUP) add_unique(needed.gids, entry.id);
    }
  }
  std::sort(needed.uids.begin(), needed.uids.end());
  std::sort(needed.gids.begin(), needed.gids.end());

  if (!needed.uids.empty() || !needed.gids.empty()) return set_access_acl(dir, 7, needed);
  // Nobody is granted any more: back to the plain private folder (no ACL at all).
  auto current = read_access_acl(dir);
  if (!current) return current.error();
  if (current->empty()) return ok_status();
  if (::fremovexattr(folder.get(), "system.posix_acl_access") != 0 && errno != ENODATA) {
    return make_error(fmt::format("{}: cannot remove its access ACL: {}", dir, std::strerror(errno)));
  }
  if (::fchmod(folder.get(), 0700) != 0) {
    return make_error(fmt::format("{}: cannot make it private again: {}", dir, std::strerror(errno)));
  }
  return ok_status();
}

}  // namespace kvpc
