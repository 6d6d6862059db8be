// `kvpc run --gdb`: Debian's real gdb, in batch mode, against the nasm test guest
// gdb_target (an ELF with symbols, booted from its flat kvpc64 image), plus the raw
// protocol for what a well-behaved gdb never sends (bad checksums, garbage, huge packets).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/e2e/kvpc_process.h"
#include "tests/machine/accelerators.h"
#include "tests/support/die_with_parent.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::guest_blob;
using testing::KvpcProcess;
using testing::ProcessResult;

std::string elf_path() { return std::string(KVPC_BINARY_DIR) + "/guest-firmware/gdb_target.elf"; }

bool have_gdb() { return access("/usr/bin/gdb", X_OK) == 0; }

// A TCP port nobody listens on right now (the kernel picks it; we release it for kvpc).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

// Connects to the stub, retrying while kvpc starts up.
int connect_to(int port) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) return fd;
    close(fd);
    std::this_thread::sleep_for(50ms);
  }
  return -1;
}

// kvpc says where the stub listens once it does (a probe connection would count as a gdb
// that came and detached, which lets a --gdb-wait guest run).
bool wait_listening(KvpcProcess& kvpc) {
  for (int i = 0; i < 200; ++i) {
    kvpc.wait_for_output("\x01", 50ms);  // drains stdout and stderr
    if (kvpc.so_far().err.find("gdb stub listening on") != std::string::npos) return true;
  }
  return false;
}

// Runs gdb -batch on `script`; optionally sends it SIGINT (Ctrl-C) after `interrupt_after`.
std::string run_gdb(const std::string& script, std::chrono::milliseconds interrupt_after = 0ms) {
  char path[] = "/tmp/kvpc-gdb-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  [[maybe_unused]] auto n = write(fd, script.data(), script.size());
  close(fd);
  std::string out_path = std::string(path) + ".out";
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    testing::die_with_parent(parent);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(out, 2);
    execl("/usr/bin/gdb", "gdb", "-batch", "-nx", "-x", path, static_cast<char*>(nullptr));
    _exit(127);
  }
  if (interrupt_after > 0ms) {
    // Ctrl-C once gdb has said it is about to continue (the script echoes @@continuing).
    auto give_up = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < give_up) {
      std::ifstream so_far(out_path);
      std::stringstream text;
      text << so_far.rdbuf();
      if (text.str().find("@@continuing") != std::string::npos) break;
      std::this_thread::sleep_for(20ms);
    }
    std::this_thread::sleep_for(interrupt_after);
    kill(pid, SIGINT);
  }
  auto deadline = std::chrono::steady_clock::now() + 120s;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  std::ifstream in(out_path);
  std::stringstream text;
  text << in.rdbuf();
  unlink(path);
  unlink(out_path.c_str());
  return text.str();
}

class GdbStubTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    KVPC_SKIP_UNLESS_ACCELERATOR(GetParam());
    if (!have_gdb()) GTEST_SKIP() << "skipped: /usr/bin/gdb is not installed (apt-get install gdb)";
    runtime_ = testing::make_runtime_dir();
    ASSERT_FALSE(runtime_.empty());
    port_ = free_port();
  }
  void TearDown() override {
    if (!runtime_.empty()) std::filesystem::remove_all(runtime_);
  }
  std::vector<std::string> run_args(const std::string& kernel, bool wait) {
    std::vector<std::string> args = {"run", "--accel", GetParam(), "--serial", "none", "--name", "gdbtest",
                                     "--gdb", "tcp:127.0.0.1:" + std::to_string(port_)};
    if (!kernel.empty()) {
      args.push_back("--kernel");
      args.push_back(kernel);
    }
    if (wait) args.push_back("--gdb-wait");
    return args;
  }
  std::string runtime_;
  int port_ = 0;
};

TEST_P(GdbStubTest, BreakStepReadWriteWatchAndContinueToTheExit) {
  KvpcProcess kvpc(run_args(guest_blob("gdb_target"), true), runtime_);
  ASSERT_TRUE(wait_listening(kvpc)) << kvpc.so_far().err;
  const std::string script =
      "set pagination off\n"
      "file " + elf_path() + "\n"
      "target remote 127.0.0.1:" + std::to_string(port_) + "\n"
      "info threads\n"
      "echo @@regs\\n\n"
      "p/x $rip\n"
      "p/x $cs\n"
      "p/x $cr0\n"
      "p/x $efer\n"
      "p $eflags\n"
      "echo @@hbreak\\n\n"
      "hbreak bump\n"
      "continue\n"
      "p/x $pc\n"
      "step\n"
      "p/x $pc\n"
      "delete\n"
      "echo @@watch\\n\n"
      "watch *(long *)&counter\n"
      "continue\n"
      "delete\n"
      "echo @@rwatch\\n\n"
      "rwatch *(long *)&counter\n"
      "continue\n"
      "p/x $pc\n"
      "delete\n"
      "echo @@break\\n\n"
      "break after_loop\n"
      "continue\n"
      "p/x $pc\n"
      "echo @@read\\n\n"
      "x/gx &marker\n"
      "print/x *(long *)&marker\n"
      "print *(long *)&counter\n"
      "echo @@write\\n\n"
      "set {long}&exit_code = 0x21\n"
      "x/gx &exit_code\n"
      "echo @@stepi\\n\n"
      "stepi\n"
      "p/x $pc\n"
      // An error would end a batch script: catch it in gdb's python.
      "python\n"
      "try:\n"
      "  gdb.execute('x/gx 0xffff800000000000')\n"
      "except gdb.MemoryError as e:\n"
      "  print('@@unmapped', e)\n"
      "end\n"
      "delete\n"
      "continue\n";
  std::string out = run_gdb(script);
  ProcessResult result = kvpc.wait(60s);
  SCOPED_TRACE(out + "\n--- kvpc stderr:\n" + result.err);
  EXPECT_NE(out.find("Thread 1 (vCPU 0)"), std::string::npos);
  EXPECT_NE(out.find("= 0x100030"), std::string::npos) << "stopped before the first instruction (entry)";
  EXPECT_NE(out.find("= 0x8\n"), std::string::npos) << "cs";
  EXPECT_NE(out.find("= 0x80050033"), std::string::npos) << "cr0";
  EXPECT_NE(out.find("= 0xd01"), std::string::npos) << "efer";
  EXPECT_NE(out.find("Hardware assisted breakpoint 1 at 0x10004c"), std::string::npos);
  EXPECT_NE(out.find("Breakpoint 1, bump ()"), std::string::npos);
  EXPECT_NE(out.find("= 0x10004c"), std::string::npos);
  EXPECT_NE(out.find("Hardware watchpoint 2: *(long *)&counter"), std::string::npos);
  EXPECT_NE(out.find("Old value = 0\nNew value = 1"), std::string::npos)
      << "the watch stops at the first increment";
  EXPECT_NE(out.find("Hardware read watchpoint 3: *(long *)&counter"), std::string::npos);
  EXPECT_NE(out.find("Value = 1"), std::string::npos) << "the second bump reads counter";
  EXPECT_NE(out.find("$8 = 0x100053"), std::string::npos) << "a read watchpoint traps after the load";
  EXPECT_NE(out.find("Breakpoint 4, after_loop ()"), std::string::npos);
  EXPECT_NE(out.find("= 0x10003f"), std::string::npos);
  EXPECT_NE(out.find("<marker>:\t0x1122334455667788"), std::string::npos);
  EXPECT_NE(out.find("= 0x1122334455667788"), std::string::npos);
  EXPECT_NE(out.find("$7 = 0x100053"), std::string::npos) << "step: one source line (mov rax, [counter])";
  EXPECT_NE(out.find("$11 = 5"), std::string::npos) << "counter after five bumps";
  EXPECT_NE(out.find("= 0x100045"), std::string::npos) << "stepi moved one instruction (mov al, [exit_code])";
  EXPECT_NE(out.find("<exit_code>:\t0x0000000000000021"), std::string::npos);
  EXPECT_NE(out.find("@@unmapped Cannot access memory at address 0xffff800000000000"), std::string::npos);
  // isa-debug-exit with 0x21: status (0x21 << 1) | 1 = 67 = 0103 in gdb's octal.
  EXPECT_NE(out.find("exited with code 0103"), std::string::npos);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.status, 67);
}

TEST_P(GdbStubTest, CtrlCStopsARunningGuestAndKillEndsIt) {
  KvpcProcess kvpc(run_args("", false), runtime_);  // the built-in guest idles in hlt, forever
  ASSERT_TRUE(wait_listening(kvpc)) << kvpc.so_far().err;
  const std::string script =
      "set pagination off\n"
      "target remote 127.0.0.1:" + std::to_string(port_) + "\n"
      "echo @@continuing\\n\n"
      "continue\n"
      "p/x $cs\n"
      "kill\n";
  std::string out = run_gdb(script, 500ms);
  ProcessResult result = kvpc.wait(30s);
  SCOPED_TRACE(out + "\n--- kvpc stderr:\n" + result.err);
  EXPECT_NE(out.find("Program received signal SIGINT"), std::string::npos);
  EXPECT_NE(out.find("= 0x8"), std::string::npos);
  EXPECT_NE(out.find("killed"), std::string::npos);
  EXPECT_FALSE(result.timed_out);
  EXPECT_NE(result.err.find("killed by gdb"), std::string::npos);
}

// What gdb itself never sends: the stub must answer with '-' or an error and keep serving.
TEST_P(GdbStubTest, MalformedPacketsGetNaksOrErrorsAndTheStubKeepsServing) {
  KvpcProcess kvpc(run_args(guest_blob("gdb_target"), true), runtime_);
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  auto send_text = [&](const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); };
  auto frame = [](const std::string& payload) {
    unsigned sum = 0;
    for (unsigned char c : payload) sum += c;
    char cs[3];
    snprintf(cs, sizeof(cs), "%02x", sum & 0xFF);
    return "$" + payload + "#" + cs;
  };
  auto read_reply = [&]() {
    std::string data;
    char buf[65536];
    while (true) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
      size_t hash = data.rfind('#');
      if (data == "-" || (hash != std::string::npos && data.size() >= hash + 3)) break;
    }
    return data;
  };
  send_text("$g#00");  // bad checksum
  EXPECT_EQ(read_reply(), "-");
  send_text(std::string("\xff\x01garbage+-", 11));  // noise between packets: ignored
  send_text(frame("?"));
  EXPECT_NE(read_reply().find("T05thread:1;"), std::string::npos);
  send_text("$" + std::string(20000, 'A') + "#00");  // longer than PacketSize
  EXPECT_EQ(read_reply(), "-");
  send_text(frame("mffff800000000000,10"));  // unmapped
  EXPECT_NE(read_reply().find("$E0e#"), std::string::npos);
  send_text(frame("m100068,zz"));  // not hex
  EXPECT_NE(read_reply().find("$E16#"), std::string::npos);
  send_text(frame("Hg99"));  // no such thread
  EXPECT_NE(read_reply().find("$E03#"), std::string::npos);
  send_text(frame("p999"));
  EXPECT_NE(read_reply().find("$E16#"), std::string::npos);
  send_text(frame("Z9,100000,1"));  // unknown breakpoint type: unsupported (empty reply)
  EXPECT_NE(read_reply().find("$#00"), std::string::npos);
  send_text(frame("m100068,8"));  // still serving: marker
  EXPECT_NE(read_reply().find("8877665544332211"), std::string::npos);
  send_text(frame("k"));
  close(fd);
  ProcessResult result = kvpc.wait(30s);
  EXPECT_FALSE(result.timed_out);
}

INSTANTIATE_TEST_SUITE_P(Accelerators, GdbStubTest, ::testing::Values("emu", "kvm"),
                         testing::accelerator_test_name);

}  // namespace
}  // namespace kvpc
