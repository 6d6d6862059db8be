// The agent's D-Bus client against a REAL dbus-daemon (a private bus started for the test;
// "skipped: ..." when dbus-daemon is not installed): AUTH EXTERNAL, Hello, a method call with a
// string argument and its reply, an error reply — and logind's absence making LogindSessions
// answer "not available" (LinuxSystem then uses utmp). ListSessions' a(susso) decoding is
// checked on a body laid out by hand.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "guest-agent/linux/dbus_client.h"
#include "guest-agent/linux/logind_sessions.h"
#include "tests/support/die_with_parent.h"

namespace kvpc {
namespace {

using agent::DbusClient;

class PrivateBus : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/dbus-daemon", X_OK) != 0) GTEST_SKIP() << "skipped: dbus-daemon is not installed";
    char dir[] = "/tmp/kvpc-dbus-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path = dir_ + "/bus";
    const pid_t parent = getpid();
    daemon_ = fork();
    if (daemon_ == 0) {
      testing::die_with_parent(parent);
      std::string address = "--address=unix:path=" + path;
      execl("/usr/bin/dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", address.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && access(path.c_str(), F_OK) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(access(path.c_str(), F_OK), 0) << "dbus-daemon did not start";
  }
  void TearDown() override {
    if (daemon_ > 0) {
      kill(daemon_, SIGTERM);
      waitpid(daemon_, nullptr, 0);
    }
    if (!path.empty()) unlink(path.c_str());
    if (!dir_.empty()) rmdir(dir_.c_str());
  }

  std::string path;

 private:
  std::string dir_;
  pid_t daemon_ = -1;
};

TEST_F(PrivateBus, AuthenticatesSaysHelloAndCallsAMethodWithAStringArgument) {
  std::string error;
  auto bus = DbusClient::connect(path, &error);
  ASSERT_TRUE(bus) << error;
  auto reply = bus->call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                         {"org.freedesktop.DBus"});
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->error) << reply->error_name;
  EXPECT_EQ(reply->signature, "s");
  agent::DbusReader r(reply->body);
  EXPECT_EQ(r.string(), "org.freedesktop.DBus");
}

TEST_F(PrivateBus, ErrorRepliesCarryTheirName) {
  std::string error;
  auto bus = DbusClient::connect(path, &error);
  ASSERT_TRUE(bus) << error;
  auto reply = bus->call("org.freedesktop.login1", "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                         "ListSessions", {});
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->error);
  EXPECT_EQ(reply->error_name, "org.freedesktop.DBus.Error.ServiceUnknown");
}

TEST_F(PrivateBus, NoLogindMeansNoLogindSessions) {
  agent::LogindSessions logind(path);
  EXPECT_EQ(logind.list(), std::nullopt);
}

TEST(DbusClient, ConnectToANonexistentBusFailsWithAReason) {
  std::string error;
  EXPECT_FALSE(DbusClient::connect("/nonexistent/bus", &error));
  EXPECT_NE(error.find("cannot connect"), std::string::npos);
}

TEST(DbusClient, DecodesListSessionsBody) {
  // a(susso) with two entries, laid out by hand: array length, pad to 8, structs 8-aligned.
  agent::DbusWriter w;
  w.u32(0);  // length, patched below
  w.align(8);
  size_t start = w.bytes.size();
  w.align(8); w.string("3"); w.u32(1000); w.string("alice"); w.string("seat0"); w.string("/org/freedesktop/login1/session/_33");
  w.align(8); w.string("c7"); w.u32(1001); w.string("bob"); w.string(""); w.string("/org/freedesktop/login1/session/c7");
  uint32_t length = static_cast<uint32_t>(w.bytes.size() - start);
  std::memcpy(w.bytes.data(), &length, 4);
  auto sessions = agent::decode_session_list(w.bytes);
  ASSERT_TRUE(sessions);
  ASSERT_EQ(sessions->size(), 2u);
  EXPECT_EQ((*sessions)[0].id, "3");
  EXPECT_EQ((*sessions)[0].user, "alice");
  EXPECT_EQ((*sessions)[0].uid, 1000u);
  EXPECT_EQ((*sessions)[1].id, "c7");
  EXPECT_EQ((*sessions)[1].user, "bob");
  EXPECT_EQ((*sessions)[1].seat, "");
  // Truncated or lying bodies are refused, never read past.
  for (size_t cut = 0; cut < w.bytes.size(); cut += 3) {
    std::vector<uint8_t> truncated(w.bytes.begin(), w.bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(agent::decode_session_list(truncated)) << cut;
  }
}

}  // namespace
}  // namespace kvpc
