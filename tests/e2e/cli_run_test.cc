// `kvpc run` as a user runs it: the binary, its flags, its exit status, its files.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <fstream>

#include "tests/e2e/kvpc_process.h"
#include "vmm/kvm_system.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::guest_blob;
using testing::run_kvpc;

class CliRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_ = testing::make_runtime_dir();
    ASSERT_FALSE(runtime_.empty());
  }
  void TearDown() override { std::filesystem::remove_all(runtime_); }
  std::string runtime_;
};

TEST_F(CliRunTest, BuiltinGuestRunsCommandsFromStdinAndExitsWithDebugExitStatus) {
  auto result = run_kvpc({"run", "--accel", "emu", "--name", "e2e1"}, runtime_, "echo from stdin\rexit 3\r");
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.status, (3 << 1) | 1) << result.err;
  EXPECT_NE(result.out.find("kvpc built-in guest"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\nfrom stdin"), std::string::npos) << result.out;
}

TEST_F(CliRunTest, GuestPoweroffExitsZeroAndRemovesTheControlSocket) {
  auto result = run_kvpc({"run", "--accel", "emu", "--name", "e2e2"}, runtime_, "poweroff\r");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_FALSE(std::filesystem::exists(runtime_ + "/e2e2.sock"));
}

TEST_F(CliRunTest, TripleFaultHasItsOwnExitStatusAndARegisterDump) {
  auto result = run_kvpc({"run", "--accel", "emu"}, runtime_, "triplefault\r");
  EXPECT_EQ(result.status, 6) << result.err;
  EXPECT_NE(result.err.find("triple-faulted"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("rip="), std::string::npos) << result.err;
}

TEST_F(CliRunTest, TripleFaultResetRebootsTheGuest) {
  // After the reset the guest boots again (a second banner) and runs the command typed then.
  testing::KvpcProcess process({"run", "--accel", "emu", "--on-triple-fault", "reset", "--name", "rs"}, runtime_);
  process.write_stdin("triplefault\r");
  ASSERT_TRUE(process.wait_for_output("kvpc> ", 60s)) << process.so_far().err;
  ASSERT_TRUE(process.wait_for_output("triplefault", 60s)) << process.so_far().err;
  bool rebooted = false;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!rebooted && std::chrono::steady_clock::now() < deadline) {
    process.wait_for_output("", 100ms);
    const std::string& out = process.so_far().out;
    size_t first = out.find("kvpc built-in guest");
    rebooted = first != std::string::npos && out.find("kvpc built-in guest", first + 1) != std::string::npos;
  }
  ASSERT_TRUE(rebooted) << process.so_far().out << process.so_far().err;
  EXPECT_NE(process.so_far().err.find("resetting as --on-triple-fault reset asks"), std::string::npos)
      << process.so_far().err;
  process.write_stdin("exit 9\r");
  auto final_result = process.wait(60s);
  EXPECT_EQ(final_result.status, (9 << 1) | 1) << final_result.err;
}

TEST_F(CliRunTest, MultibootKernelFromFileSeesCommandLineOnDebugcon) {
  std::string log = runtime_ + "/debugcon.log";
  auto result = run_kvpc({"run", "--accel", "emu", "--mem", "32M", "--kernel", guest_blob("multiboot_info"),
                          "--cmdline", "quiet answer=42", "--debugcon", "file:" + log, "--serial", "none"},
                         runtime_);
  EXPECT_EQ(result.status, (0x20 << 1) | 1) << result.err;
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "cmdline=quiet answer=42\nmem_upper=31744\n");
}

TEST_F(CliRunTest, MissingKvmIsOneClearSentenceWithItsOwnStatus) {
  if (KvmSystem::open()) GTEST_SKIP() << "skipped: /dev/kvm works here, so its absence cannot be shown";
  auto result = run_kvpc({"run"}, runtime_);
  EXPECT_EQ(result.status, 4);
  EXPECT_NE(result.err.find("/dev/kvm"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--accel emu"), std::string::npos) << result.err;
}

TEST_F(CliRunTest, StaleSocketOfADeadRunIsCleanedUp) {
  // A socket file nobody listens on, as a SIGKILLed kvpc leaves behind.
  std::string path = runtime_ + "/stale.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  close(fd);
  auto result = run_kvpc({"run", "--accel", "emu", "--name", "stale"}, runtime_, "exit 1\r");
  EXPECT_EQ(result.status, 3) << result.err;
}

TEST_F(CliRunTest, SecondVmWithTheSameNameIsRefused) {
  testing::KvpcProcess first({"run", "--accel", "emu", "--name", "twin"}, runtime_);
  ASSERT_TRUE(first.wait_for_output("kvpc> ", 20s));
  auto second = run_kvpc({"run", "--accel", "emu", "--name", "twin"}, runtime_);
  EXPECT_EQ(second.status, 2);
  EXPECT_NE(second.err.find("already running"), std::string::npos) << second.err;
  first.write_stdin("exit 0\r");
  EXPECT_EQ(first.wait(20s).status, 1);
}

TEST_F(CliRunTest, SigtermStopsTheVmCleanly) {
  testing::KvpcProcess process({"run", "--accel", "emu", "--name", "term"}, runtime_);
  ASSERT_TRUE(process.wait_for_output("kvpc> ", 20s));
  process.signal(SIGTERM);
  auto result = process.wait(20s);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_FALSE(std::filesystem::exists(runtime_ + "/term.sock"));
}

TEST_F(CliRunTest, UnreadableKernelIsOneClearSentence) {
  // Root reads any file, so the caller here is a second user (nobody) and the image is mode 000.
  if (geteuid() != 0) GTEST_SKIP() << "skipped: acting as a second user needs root (setuid in the test)";
  constexpr int kNobody = 65534;
  ASSERT_EQ(chown(runtime_.c_str(), kNobody, kNobody), 0);
  std::string path = runtime_ + "/secret.bin";
  std::ofstream(path) << std::string(4096, 'x');
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  auto result = run_kvpc({"run", "--accel", "emu", "--kernel", path}, runtime_ + "/run", "", 20s, kNobody);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.status, 2) << result.err;
  EXPECT_NE(result.err.find("'" + path + "' is not readable: permission denied"), std::string::npos) << result.err;
}

// Bad input from the command line: each gets a clear error and status 2, never a crash or a hang.
struct BadInvocation {
  const char* label;
  std::vector<std::string> args;
  const char* expected_text;
};

// Names the case in test listings instead of dumping the struct's bytes.
void PrintTo(const BadInvocation& invocation, std::ostream* out) { *out << invocation.label; }

class CliBadInputTest : public ::testing::TestWithParam<BadInvocation> {};

void put32(std::string& bytes, size_t at, uint32_t value) {
  if (bytes.size() < at + 4) bytes.resize(at + 4, '\0');
  for (int i = 0; i < 4; ++i) bytes[at + static_cast<size_t>(i)] = static_cast<char>(value >> (8 * i));
}

// Corrupt images, made on the spot: "@NAME" in a row's argv becomes the path of file NAME.
std::string corrupt_image(const std::string& name) {
  constexpr uint32_t kMultibootMagic = 0x1BADB002;
  std::string bytes;
  if (name == "ELF_NO_MULTIBOOT") {  // a 32-bit ELF header and nothing kvpc can boot it with
    bytes = std::string("\x7f" "ELF\x01\x01\x01", 7);
    bytes.resize(64, '\0');
  } else if (name == "BAD_MULTIBOOT_CHECKSUM") {  // ELF with a Multiboot header whose checksum is off by one
    bytes = std::string("\x7f" "ELF\x01\x01\x01", 7);
    put32(bytes, 64, kMultibootMagic);
    put32(bytes, 68, 0);
    put32(bytes, 72, 0u - kMultibootMagic + 1);
  } else if (name == "TRUNCATED_ELF") {  // valid Multiboot header (ELF path), ELF header cut at 40 bytes
    bytes = std::string("\x7f" "ELF\x01\x01\x01", 7);
    put32(bytes, 16, kMultibootMagic);
    put32(bytes, 20, 0);
    put32(bytes, 24, 0u - kMultibootMagic);
    bytes.resize(40, '\0');
  } else if (name == "AOUT_PAST_FILE") {  // Multiboot a.out kludge loading 1 MiB from a 64-byte file
    put32(bytes, 0, kMultibootMagic);
    put32(bytes, 4, 0x10000);
    put32(bytes, 8, 0u - kMultibootMagic - 0x10000);
    put32(bytes, 12, 0x100000);  // header_addr
    put32(bytes, 16, 0x100000);  // load_addr
    put32(bytes, 20, 0x200000);  // load_end_addr: 1 MiB of file
    put32(bytes, 24, 0x200000);  // bss_end_addr
    put32(bytes, 28, 0x100020);  // entry
    bytes.resize(64, '\0');
  } else if (name == "TRUNCATED_KVPC64") {  // the kvpc64 magic and no header after it
    bytes = "KVPC64IM";
  }
  return bytes;
}

TEST_P(CliBadInputTest, FailsClearlyWithStatusTwo) {
  std::string runtime = testing::make_runtime_dir();
  std::string empty = runtime + "/empty.bin";
  std::ofstream(empty).close();
  std::vector<std::string> args;
  for (const auto& arg : GetParam().args) {
    if (arg == "@EMPTY") {
      args.push_back(empty);
    } else if (arg == "@DIR") {
      args.push_back(runtime);
    } else if (arg == "@MULTIBOOT") {
      args.push_back(guest_blob("multiboot_info"));
    } else if (arg == "@HUGE") {  // a sparse 8 GiB file: no 32 MiB guest holds it
      std::string path = runtime + "/huge.bin";
      std::ofstream(path).close();
      std::filesystem::resize_file(path, 8ull << 30);
      args.push_back(path);
    } else if (arg.size() > 1 && arg[0] == '@') {
      std::string path = runtime + "/" + arg.substr(1) + ".bin";
      std::ofstream(path, std::ios::binary) << corrupt_image(arg.substr(1));
      args.push_back(path);
    } else {
      args.push_back(arg);
    }
  }
  auto result = run_kvpc(args, runtime, "", 20s);
  std::filesystem::remove_all(runtime);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.status, 2) << result.err;
  EXPECT_NE((result.err + result.out).find(GetParam().expected_text), std::string::npos)
      << "stderr: " << result.err << "\nstdout: " << result.out;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CliBadInputTest,
    ::testing::Values(
        BadInvocation{"missing_kernel", {"run", "--accel", "emu", "--kernel", "/no/such/kernel"}, "/no/such/kernel"},
        BadInvocation{"kernel_is_directory", {"run", "--accel", "emu", "--kernel", "@DIR"}, "directory"},
        BadInvocation{"empty_kernel", {"run", "--accel", "emu", "--kernel", "@EMPTY"}, "empty"},
        BadInvocation{"zero_memory", {"run", "--accel", "emu", "--mem", "0"}, "--mem"},
        BadInvocation{"absurd_memory", {"run", "--accel", "emu", "--mem", "64T"}, "1 TiB"},
        BadInvocation{"garbage_memory", {"run", "--accel", "emu", "--mem", "lots"}, "--mem"},
        BadInvocation{"tiny_memory", {"run", "--accel", "emu", "--mem", "4K"}, "at least 1 MiB"},
        BadInvocation{"unknown_flag", {"run", "--frobnicate"}, "frobnicate"},
        BadInvocation{"unknown_verb", {"explode"}, "explode"},
        BadInvocation{"unknown_format", {"run", "--accel", "emu", "--kernel-format", "pe"}, "--kernel-format"},
        BadInvocation{"zero_cpus", {"run", "--accel", "emu", "--cpus", "0"}, "--cpus"},
        BadInvocation{"bad_serial", {"run", "--accel", "emu", "--serial", "telnet:1"}, "--serial"},
        BadInvocation{"bad_name", {"run", "--accel", "emu", "--name", "a/b"}, "VM name"},
        BadInvocation{"initrd_without_kernel", {"run", "--accel", "emu", "--initrd", "@EMPTY"}, "--initrd needs --kernel"},
        BadInvocation{"bad_triple_fault_policy", {"run", "--on-triple-fault", "explode"}, "--on-triple-fault"},
        BadInvocation{"bad_accel", {"run", "--accel", "warp"}, "--accel"},
        BadInvocation{"kernel_and_bios", {"run", "--accel", "emu", "--kernel", "@EMPTY", "--bios", "@EMPTY"}, "exclude"},
        BadInvocation{"bios_wrong_size", {"run", "--accel", "emu", "--bios", "@EMPTY"}, "bios"},
        BadInvocation{"stop_unknown_vm", {"stop", "nosuchvm"}, "no running VM named 'nosuchvm'"},
        BadInvocation{"elf_without_multiboot", {"run", "--accel", "emu", "--kernel", "@ELF_NO_MULTIBOOT"},
                      "ELF kernel without a Multiboot header"},
        BadInvocation{"multiboot_bad_checksum", {"run", "--accel", "emu", "--kernel", "@BAD_MULTIBOOT_CHECKSUM"},
                      "broken Multiboot header"},
        BadInvocation{"truncated_elf", {"run", "--accel", "emu", "--kernel", "@TRUNCATED_ELF"}, "ELF header truncated"},
        BadInvocation{"aout_kludge_past_end_of_file", {"run", "--accel", "emu", "--kernel", "@AOUT_PAST_FILE"},
                      "but the file has only 0x40 bytes"},
        BadInvocation{"truncated_kvpc64", {"run", "--accel", "emu", "--kernel", "@TRUNCATED_KVPC64"},
                      "shorter than its"},
        BadInvocation{"huge_kernel", {"run", "--accel", "emu", "--mem", "32M", "--kernel", "@HUGE"},
                      "more than the limit"},
        BadInvocation{"huge_initrd", {"run", "--accel", "emu", "--mem", "32M", "--kernel", "@MULTIBOOT", "--initrd", "@HUGE"},
                      "more than the limit"},
        BadInvocation{"huge_bios", {"run", "--accel", "emu", "--mem", "32M", "--bios", "@HUGE"},
                      "more than the limit"},
        BadInvocation{"kernel_format_forced_wrong", {"run", "--accel", "emu", "--kernel-format", "multiboot", "--kernel",
                      "@TRUNCATED_KVPC64"}, "Multiboot"},
        BadInvocation{"bad_seccomp_value", {"run", "--accel", "emu", "--seccomp", "maybe"}, "--seccomp"}),
    [](const ::testing::TestParamInfo<BadInvocation>& param_info) { return std::string(param_info.param.label); });

}  // namespace
}  // namespace kvpc
