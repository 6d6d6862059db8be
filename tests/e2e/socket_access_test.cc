// Who may use a VM's control socket, with real users (the test runs as root and creates two
// throwaway system users, removed at the end): kvpc is started with --allow-user GRANTED.
//   - Files: the socket and the runtime folder give GRANTED (and only GRANTED) access through
//     a POSIX ACL; "other" gets nothing, nothing is world-writable.
//   - GRANTED connects and gets answers (`guest`); an owner-only method (`inspect`) is refused
//     by the peer-credential check with access_denied.
//   - OTHER is refused by the file layer: connect() fails with EACCES, `kvpc guest` reports
//     E_ACCESSDENIED.
//   - OTHER holding GRANTED's file-system identity (setfsuid: the path check passes) is still
//     refused by the peer-credential check (SO_PEERCRED reports the effective uid), with
//     E_ACCESSDENIED and an audit line naming OTHER's uid.
#include <gtest/gtest.h>

#include <linux/posix_acl.h>
#include <pwd.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"
#include "tools/access_acl.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::KvpcProcess;
using testing::run_kvpc;

// A system user that exists for one test: useradd on creation, userdel on destruction.
class ThrowawayUser {
 public:
  explicit ThrowawayUser(const std::string& name) : name_(name) {
    const std::string command = "useradd --system --no-create-home --shell /usr/sbin/nologin " + name_ + " 2>&1";
    if (std::system(command.c_str()) != 0) {
      error_ = "useradd " + name_ + " failed";
      return;
    }
    const passwd* entry = getpwnam(name_.c_str());
    if (entry == nullptr) {
      error_ = "useradd " + name_ + " succeeded but getpwnam does not find the user";
      return;
    }
    uid_ = static_cast<int>(entry->pw_uid);
    gid_ = static_cast<int>(entry->pw_gid);
  }
  ~ThrowawayUser() {
    if (uid_ >= 0) [[maybe_unused]] int ignored = std::system(("userdel " + name_ + " 2>&1").c_str());
  }
  const std::string& name() const { return name_; }
  int uid() const { return uid_; }
  int gid() const { return gid_; }
  const std::string& error() const { return error_; }

 private:
  std::string name_;
  std::string error_;
  int uid_ = -1;
  int gid_ = -1;
};

struct RawReply {
  int connect_errno = 0;
  std::string line;
};

// In a child process with real uid and effective uid `uid`: optionally borrow `fs_uid` for
// path permission checks (setfsuid), connect to `socket_path`, send one request and read one
// line. The child dies with the test.
RawReply call_as(const std::string& socket_path, int uid, int gid, int fs_uid, const std::string& request) {
  int report[2];
  if (pipe(report) != 0) return {-1, "pipe failed"};
  const pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    close(report[0]);
    testing::die_with_parent(parent);
    auto say = [&](int err, const std::string& line) {
      std::string text = std::to_string(err) + "\n" + line;
      [[maybe_unused]] auto n = write(report[1], text.data(), text.size());
      _exit(0);
    };
    // Saved uid = fs_uid so that the unprivileged process may still setfsuid() to it.
    const uid_t saved = static_cast<uid_t>(fs_uid >= 0 ? fs_uid : uid);
    if (setgroups(0, nullptr) != 0 || setresgid(static_cast<gid_t>(gid), static_cast<gid_t>(gid), static_cast<gid_t>(gid)) != 0 ||
        setresuid(static_cast<uid_t>(uid), static_cast<uid_t>(uid), saved) != 0) {
      say(-1, std::string("dropping privileges failed: ") + strerror(errno));
    }
    if (fs_uid >= 0) {
      setfsuid(static_cast<uid_t>(fs_uid));
      if (static_cast<int>(setfsuid(static_cast<uid_t>(-1))) != fs_uid) say(-1, "setfsuid did not take");
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) say(errno, "");
    std::string text = request + "\n";
    if (send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) say(-1, "send failed");
    std::string line;
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n') line += c;
    say(0, line);
  }
  close(report[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(report[0], buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  close(report[0]);
  waitpid(child, nullptr, 0);
  RawReply reply;
  const auto newline = text.find('\n');
  if (newline == std::string::npos) return {-1, "the child reported nothing"};
  reply.connect_errno = std::stoi(text.substr(0, newline));
  reply.line = text.substr(newline + 1);
  return reply;
}

bool has_entry(const std::vector<AclEntry>& acl, uint16_t tag, uint32_t id, uint16_t permission) {
  return std::find(acl.begin(), acl.end(), AclEntry{tag, permission, id}) != acl.end();
}

size_t named_entries(const std::vector<AclEntry>& acl) {
  return static_cast<size_t>(
      std::count_if(acl.begin(), acl.end(), [](const AclEntry& e) { return e.tag == ACL_USER || e.tag == ACL_GROUP; }));
}

TEST(SocketAccessTest, GrantedUserIsAnsweredAndOthersAreRefusedByTheFileAndByPeerCredentials) {
  if (geteuid() != 0) GTEST_SKIP() << "skipped: needs root to create users and switch to them (euid " << geteuid() << ")";
  const std::string tag = std::to_string(getpid() % 100000);
  ThrowawayUser granted("kvpcg" + tag);
  ThrowawayUser other("kvpco" + tag);
  if (!granted.error().empty() || !other.error().empty()) {
    GTEST_SKIP() << "skipped: cannot create throwaway users: " << granted.error() << " " << other.error();
  }
  // The runtime folder must be reachable by the granted user up to the folder itself (/tmp).
  const std::string runtime = testing::make_runtime_dir();
  ASSERT_FALSE(runtime.empty());
  const std::string socket_path = runtime + "/vm.sock";
  {
    KvpcProcess vm({"run", "--accel", "emu", "--name", "vm", "--mem", "32M", "--cmdline", "users=alice", "--allow-user",
                    granted.name()},
                   runtime);
    ASSERT_TRUE(vm.wait_for_output("agent: ready", 60s)) << vm.so_far().out << vm.so_far().err;

    // The file layer: only the owner and the granted user; nothing for "other".
    struct stat info {};
    ASSERT_EQ(stat(socket_path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07, 0u) << std::oct << info.st_mode;
    auto socket_acl = read_access_acl(socket_path);
    ASSERT_TRUE(socket_acl.ok()) << socket_acl.error().message;
    EXPECT_TRUE(has_entry(*socket_acl, ACL_USER, static_cast<uint32_t>(granted.uid()), 6));
    EXPECT_EQ(named_entries(*socket_acl), 1u);
    EXPECT_TRUE(has_entry(*socket_acl, ACL_GROUP_OBJ, static_cast<uint32_t>(ACL_UNDEFINED_ID), 0));
    EXPECT_TRUE(has_entry(*socket_acl, ACL_OTHER, static_cast<uint32_t>(ACL_UNDEFINED_ID), 0));
    ASSERT_EQ(stat(runtime.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07, 0u) << std::oct << info.st_mode;
    auto folder_acl = read_access_acl(runtime);
    ASSERT_TRUE(folder_acl.ok()) << folder_acl.error().message;
    EXPECT_TRUE(has_entry(*folder_acl, ACL_USER, static_cast<uint32_t>(granted.uid()), 1)) << "search only, no listing";

    // The granted user is answered.
    auto answered = run_kvpc({"guest", "vm", "--json"}, runtime, "", 60s, granted.uid());
    EXPECT_EQ(answered.status, 0) << answered.err;
    auto answer = nlohmann::json::parse(answered.out, nullptr, false);
    EXPECT_FALSE(answer.is_discarded()) << answered.out << answered.err;
    if (!answer.is_discarded()) {
      EXPECT_EQ(answer.value("hresult", ""), "0x00000000") << answered.out;
    }
    // ...but not for what only the owner may do: refused by the peer-credential check.
    auto inspected = run_kvpc({"inspect", "vm"}, runtime, "", 30s, granted.uid());
    EXPECT_NE(inspected.status, 0);
    EXPECT_NE(inspected.err.find("only the VM's owner or root"), std::string::npos) << inspected.err;

    // Another user: the socket file keeps it out (EACCES), and the CLI says access denied.
    auto refused = call_as(socket_path, other.uid(), other.gid(), -1, R"({"id":1,"method":"guest"})");
    EXPECT_EQ(refused.connect_errno, EACCES) << refused.line;
    auto guest_refused = run_kvpc({"guest", "vm"}, runtime, "", 30s, other.uid());
    EXPECT_NE(guest_refused.status, 0);
    EXPECT_NE(guest_refused.err.find("its control socket refused you: permission denied"), std::string::npos)
        << guest_refused.err;
    auto cli_refused = run_kvpc({"logoff", "vm", "--json"}, runtime, "", 30s, other.uid());
    auto cli_answer = nlohmann::json::parse(cli_refused.out, nullptr, false);
    EXPECT_FALSE(cli_answer.is_discarded()) << cli_refused.out << cli_refused.err;
    if (!cli_answer.is_discarded()) {
      EXPECT_EQ(cli_answer.value("hresult", ""), "0x80070005") << cli_refused.out;
    }

    // Another user who passes the file layer with the granted user's fsuid: the server sees
    // its real (effective) uid and refuses it, with an audit line.
    auto borrowed = call_as(socket_path, other.uid(), other.gid(), granted.uid(), R"({"id":1,"method":"guest"})");
    ASSERT_EQ(borrowed.connect_errno, 0) << "setfsuid(granted) must pass the file check: " << borrowed.line;
    auto reply = nlohmann::json::parse(borrowed.line, nullptr, false);
    ASSERT_FALSE(reply.is_discarded()) << borrowed.line;
    EXPECT_EQ(reply["result"].value("hresult", ""), "0x80070005") << borrowed.line;
    vm.wait_for_output("", 500ms);
    EXPECT_NE(vm.so_far().err.find("access denied: uid=" + std::to_string(other.uid())), std::string::npos)
        << vm.so_far().err;
    // The same borrowed identity as the granted user's own: answered (the check is on the uid).
    auto own = call_as(socket_path, granted.uid(), granted.gid(), -1, R"({"id":1,"method":"guest"})");
    ASSERT_EQ(own.connect_errno, 0) << own.line;
    EXPECT_NE(own.line.find("\"hresult\":\"0x00000000\""), std::string::npos) << own.line;

    EXPECT_EQ(run_kvpc({"stop", "vm"}, runtime, "", 20s).status, 0);
    EXPECT_EQ(vm.wait(30s).status, 0);
  }
  // The grant ends with the VM: the folder has no ACL left and is private again.
  auto folder_after = read_access_acl(runtime);
  ASSERT_TRUE(folder_after.ok()) << folder_after.error().message;
  EXPECT_TRUE(folder_after->empty()) << named_entries(*folder_after) << " named entries left on the runtime folder";
  struct stat after {};
  ASSERT_EQ(stat(runtime.c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 0777, 0700u) << std::oct << after.st_mode;
  std::filesystem::remove_all(runtime);
}

}  // namespace
}  // namespace kvpc
