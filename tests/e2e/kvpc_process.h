// Runs the real `kvpc` binary as a user would, for end-to-end tests: arguments, stdin,
// captured stdout/stderr, exit status, and a private runtime folder per test.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/die_with_parent.h"

namespace kvpc::testing {

inline std::string kvpc_binary() { return std::string(KVPC_BINARY_DIR) + "/tools/kvpc"; }
inline std::string guest_blob(const std::string& name) {
  return std::string(KVPC_BINARY_DIR) + "/guest-firmware/" + name + ".bin";
}

struct ProcessResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
  bool timed_out = false;
};

// A running kvpc: stdin is a pipe the test writes to; output is collected until wait().
class KvpcProcess {
 public:
  // run_as_uid >= 0: the child drops to that user (and group) before exec (tests run as root).
  KvpcProcess(const std::vector<std::string>& args, const std::string& runtime_dir, int run_as_uid = -1) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Dropping to another user below keeps the death signal: only exec of a set-user-ID
      // binary or a credential change clears it, and setuid() is one, so set it again after.
      die_with_parent(parent);
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      setenv("KVPC_RUNTIME_DIR", runtime_dir.c_str(), 1);
      if (run_as_uid >= 0) {
        if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(run_as_uid)) != 0 ||
            setuid(static_cast<uid_t>(run_as_uid)) != 0) {
          _exit(126);
        }
        die_with_parent(parent);
      }
      std::vector<char*> argv;
      std::string binary = kvpc_binary();
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (auto& arg : copy) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
    fcntl(stdout_, F_SETFL, O_NONBLOCK);
    fcntl(stderr_, F_SETFL, O_NONBLOCK);
  }
  ~KvpcProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close_stdin();
    if (stdout_ >= 0) close(stdout_);
    if (stderr_ >= 0) close(stderr_);
  }

  void write_stdin(const std::string& text) {
    // A kvpc that already exited must fail the test with its output, not kill the test binary
    // with SIGPIPE (which hides why): writes to its stdin then just fail with EPIPE.
    static const bool sigpipe_ignored = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)sigpipe_ignored;
    if (stdin_ >= 0) [[maybe_unused]] auto n = write(stdin_, text.data(), text.size());
  }
  void close_stdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }
  void signal(int sig) { kill(pid_, sig); }
  pid_t pid() const { return pid_; }

  // Collects output until `needle` appears in stdout or timeout passes.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      drain(50);
      if (result_.out.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  ProcessResult wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reaped_) {
      drain(20);
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        result_.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        result_.timed_out = true;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        reaped_ = true;
        break;
      }
    }
    drain(0);
    return result_;
  }

  const ProcessResult& so_far() const { return result_; }

 private:
  void drain(int timeout_ms) {
    pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
    poll(fds, 2, timeout_ms);
    char buffer[4096];
    ssize_t n;
    while ((n = read(stdout_, buffer, sizeof(buffer))) > 0) result_.out.append(buffer, static_cast<size_t>(n));
    while ((n = read(stderr_, buffer, sizeof(buffer))) > 0) result_.err.append(buffer, static_cast<size_t>(n));
  }

  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  bool reaped_ = false;
  ProcessResult result_;
};

// Runs kvpc to completion with `input` on stdin.
inline ProcessResult run_kvpc(const std::vector<std::string>& args, const std::string& runtime_dir,
                              const std::string& input = "",
                              std::chrono::milliseconds timeout = std::chrono::seconds(60), int run_as_uid = -1) {
  KvpcProcess process(args, runtime_dir, run_as_uid);
  process.write_stdin(input);
  process.close_stdin();
  return process.wait(timeout);
}

// A fresh private runtime folder under the system temp dir.
inline std::string make_runtime_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "kvpc-e2e-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  return made ? std::string(made) : std::string();
}

}  // namespace kvpc::testing
