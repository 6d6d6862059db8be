#include "tools/runtime_dir.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {

namespace {
constexpr const char* kSocketSuffix = ".sock";
}

std::string runtime_dir_path() {
  if (const char* forced = std::getenv("KVPC_RUNTIME_DIR"); forced != nullptr && *forced != '\0') return forced;
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/kvpc";
  }
  return fmt::format("/tmp/kvpc-{}", getuid());
}

Result<std::string> ensure_runtime_dir() {
  std::string dir = runtime_dir_path();
  if (mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) {
    return make_error(fmt::format("cannot create the runtime folder {}: {}", dir, strerror(errno)));
  }
  struct stat info{};
  if (lstat(dir.c_str(), &info) < 0) {
    return make_error(fmt::format("cannot inspect the runtime folder {}: {}", dir, strerror(errno)));
  }
  if (!S_ISDIR(info.st_mode)) return make_error(fmt::format("the runtime folder {} is not a folder", dir));
  if (info.st_uid != getuid()) {
    return make_error(fmt::format("the runtime folder {} belongs to uid {}, not to you (uid {}); remove it or set "
                                  "KVPC_RUNTIME_DIR",
                                  dir, info.st_uid, getuid()));
  }
  // Search-only bits are allowed: a VM started with --allow-user grants those users search
  // (never listing) through an ACL, which shows as the group x bit (the ACL mask).
  if ((info.st_mode & 0066) != 0) {
    if (chmod(dir.c_str(), 0700) < 0) {
      return make_error(fmt::format("the runtime folder {} is open to other users and cannot be fixed: {}", dir,
                                    strerror(errno)));
    }
  }
  return dir;
}

std::string socket_path_for(const std::string& dir, const std::string& name) { return dir + "/" + name + kSocketSuffix; }

std::vector<std::string> list_vm_sockets(const std::string& dir) {
  std::vector<std::string> names;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return names;
  while (dirent* entry = readdir(handle)) {
    std::string file = entry->d_name;
    const size_t suffix = std::strlen(kSocketSuffix);
    if (file.size() > suffix && file.compare(file.size() - suffix, suffix, kSocketSuffix) == 0) {
      names.push_back(file.substr(0, file.size() - suffix));
    }
  }
  closedir(handle);
  std::sort(names.begin(), names.end());
  return names;
}

Status validate_vm_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return make_error("a VM name has 1 to 64 characters");
  if (name[0] == '.') return make_error(fmt::format("VM name '{}' must not start with '.'", name));
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return make_error(fmt::format("VM name '{}' may only use letters, digits, '.', '_' and '-'", name));
  }
  return ok_status();
}

}  // namespace kvpc
