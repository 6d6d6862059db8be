#include "tools/access_acl.h"

#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include <fmt/format.h>

namespace kvpc {

namespace {

constexpr const char* kAccessAclXattr = "system.posix_acl_access";
constexpr uint32_t kUndefinedId = static_cast<uint32_t>(ACL_UNDEFINED_ID);
constexpr size_t kEntryBytes = sizeof(posix_acl_xattr_entry);
constexpr size_t kHeaderBytes = sizeof(posix_acl_xattr_header);

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint32_t get_le(const uint8_t* at, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | at[i];
  return value;
}

bool named(uint16_t tag) { return tag == ACL_USER || tag == ACL_GROUP; }

std::string os_error(const std::string& path, const char* what, int error) {
  if (error == EOPNOTSUPP) {
    return fmt::format("{}: {}: the file system does not support POSIX ACLs (needed to share it with "
                       "--allow-user/--allow-group without opening it to everyone)",
                       path, what);
  }
  return fmt::format("{}: {}: {}", path, what, std::strerror(error));
}

// Named entries for `grant`, skipping the owner (whose USER_OBJ entry already applies).
void append_grant(std::vector<AclEntry>& entries, const AclGrant& grant, uint32_t owner) {
  for (uint32_t uid : grant.uids) {
    if (uid == owner) continue;
    auto found = std::find_if(entries.begin(), entries.end(),
                              [uid](const AclEntry& e) { return e.tag == ACL_USER && e.id == uid; });
    if (found == entries.end()) entries.push_back({ACL_USER, grant.permission, uid});
    else found->permission |= grant.permission;
  }
  for (uint32_t gid : grant.gids) {
    auto found = std::find_if(entries.begin(), entries.end(),
                              [gid](const AclEntry& e) { return e.tag == ACL_GROUP && e.id == gid; });
    if (found == entries.end()) entries.push_back({ACL_GROUP, grant.permission, gid});
    else found->permission |= grant.permission;
  }
}

// Owner, nothing for the owning group and others, a mask covering exactly the named entries.
std::vector<AclEntry> complete(std::vector<AclEntry> named_entries, uint16_t owner_permission) {
  uint16_t mask = 0;
  for (const auto& e : named_entries) mask |= e.permission;
  named_entries.push_back({ACL_USER_OBJ, owner_permission, kUndefinedId});
  named_entries.push_back({ACL_GROUP_OBJ, 0, kUndefinedId});
  named_entries.push_back({ACL_OTHER, 0, kUndefinedId});
  named_entries.push_back({ACL_MASK, mask, kUndefinedId});
  return named_entries;
}

Status write_acl(const std::string& path, std::vector<AclEntry> entries) {
  auto bytes = encode_access_acl(std::move(entries));
  if (!bytes) return make_error(fmt::format("{}: {}", path, bytes.error().message));
  if (::setxattr(path.c_str(), kAccessAclXattr, bytes->data(), bytes->size(), 0) != 0) {
    return make_error(os_error(path, "setting its access ACL", errno));
  }
  return ok_status();
}

}  // namespace

Result<std::vector<uint8_t>> encode_access_acl(std::vector<AclEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const AclEntry& a, const AclEntry& b) { return std::tie(a.tag, a.id) < std::tie(b.tag, b.id); });
  int owners = 0, owning_groups = 0, others = 0, masks = 0, named_entries = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.permission > 7) return make_error(fmt::format("ACL entry permission {} is not 0-7", e.permission));
    switch (e.tag) {
      case ACL_USER_OBJ: ++owners; break;
      case ACL_GROUP_OBJ: ++owning_groups; break;
      case ACL_OTHER: ++others; break;
      case ACL_MASK: ++masks; break;
      case ACL_USER:
      case ACL_GROUP:
        ++named_entries;
        if (e.id == kUndefinedId) return make_error("a named ACL entry needs a uid or gid");
        if (i > 0 && entries[i - 1].tag == e.tag && entries[i - 1].id == e.id) {
          return make_error(fmt::format("ACL names {} {} twice", e.tag == ACL_USER ? "uid" : "gid", e.id));
        }
        break;
      default: return make_error(fmt::format("unknown ACL tag {:#x}", e.tag));
    }
  }
  if (owners != 1 || owning_groups != 1 || others != 1 || masks > 1 || (named_entries > 0 && masks != 1)) {
    return make_error("an access ACL needs exactly one owner, owning-group and other entry, and a mask with named entries");
  }
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + entries.size() * kEntryBytes);
  put_le(out, POSIX_ACL_XATTR_VERSION, 4);
  for (const auto& e : entries) {
    put_le(out, e.tag, 2);
    put_le(out, e.permission, 2);
    put_le(out, named(e.tag) ? e.id : kUndefinedId, 4);
  }
  return out;
}

Result<std::vector<AclEntry>> decode_access_acl(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < kHeaderBytes || (bytes.size() - kHeaderBytes) % kEntryBytes != 0) {
    return make_error(fmt::format("an ACL of {} bytes is not a header plus whole entries", bytes.size()));
  }
  if (get_le(bytes.data(), 4) != POSIX_ACL_XATTR_VERSION) {
    return make_error(fmt::format("ACL version {} is not {}", get_le(bytes.data(), 4), POSIX_ACL_XATTR_VERSION));
  }
  std::vector<AclEntry> entries;
  for (size_t at = kHeaderBytes; at < bytes.size(); at += kEntryBytes) {
    entries.push_back({static_cast<uint16_t>(get_le(&bytes[at], 2)), static_cast<uint16_t>(get_le(&bytes[at + 2], 2)),
                       get_le(&bytes[at + 4], 4)});
  }
  return entries;
}

Result<std::vector<AclEntry>> read_access_acl(const std::string& path) {
  std::vector<uint8_t> bytes(kHeaderBytes + 64 * kEntryBytes);
  for (;;) {
    ssize_t n = ::getxattr(path.c_str(), kAccessAclXattr, bytes.data(), bytes.size());
    if (n >= 0) {
      bytes.resize(static_cast<size_t>(n));
      return decode_access_acl(bytes);
    }
    if (errno == ENODATA) return std::vector<AclEntry>{};
    if (errno != ERANGE || bytes.size() > (1u << 20)) return make_error(os_error(path, "reading its access ACL", errno));
    bytes.resize(bytes.size() * 4);
  }
}

Status set_access_acl(const std::string& path, uint16_t owner_permission, const AclGrant& grant) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return make_error(os_error(path, "stat", errno));
  std::vector<AclEntry> entries;
  append_grant(entries, grant, info.st_uid);
  return write_acl(path, complete(std::move(entries), owner_permission));
}

}  // namespace kvpc
