// The control socket against bad requests: each gets a clear error and the VM keeps answering.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;

class ControlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_ = testing::make_runtime_dir();
    vm_ = std::make_unique<testing::KvpcProcess>(
        std::vector<std::string>{"run", "--accel", "emu", "--name", "sock", "--mem", "32M"}, runtime_);
    ASSERT_TRUE(vm_->wait_for_output("kvpc> ", 20s));
  }
  void TearDown() override {
    vm_.reset();
    std::filesystem::remove_all(runtime_);
  }

  int connect_socket() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string path = runtime_ + "/sock.sock";
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    return fd;
  }
  static void send_all(int fd, const std::string& text) {
    size_t sent = 0;
    while (sent < text.size()) {
      ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }
  // One response line (or "" on timeout/close).
  static std::string read_line(int fd, std::chrono::milliseconds timeout = 5s) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char c;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      if (read(fd, &c, 1) != 1) return line;
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }
  nlohmann::json request(int fd, const std::string& text) {
    send_all(fd, text);
    return nlohmann::json::parse(read_line(fd), nullptr, false);
  }
  void expect_vm_still_answers() {
    int fd = connect_socket();
    auto status = request(fd, R"({"id":9,"method":"status"})" "\n");
    close(fd);
    ASSERT_FALSE(status.is_discarded());
    EXPECT_EQ(status["ok"], true);
    EXPECT_EQ(status["result"]["state"], "Running");
  }

  std::string runtime_;
  std::unique_ptr<testing::KvpcProcess> vm_;
};

TEST_F(ControlSocketTest, InvalidJsonWrongShapesAndUnknownMethodsGetErrorCodes) {
  int fd = connect_socket();
  EXPECT_EQ(request(fd, "this is not json\n")["error"]["code"], "invalid_json");
  EXPECT_EQ(request(fd, "[1,2,3]\n")["error"]["code"], "invalid_request");
  EXPECT_EQ(request(fd, R"({"id":1,"method":42})" "\n")["error"]["code"], "invalid_request");
  EXPECT_EQ(request(fd, R"({"id":2,"method":"status","params":[1]})" "\n")["error"]["code"], "invalid_request");
  auto unknown = request(fd, R"({"id":3,"method":"format_disk"})" "\n");
  EXPECT_EQ(unknown["id"], 3);
  EXPECT_EQ(unknown["error"]["code"], "unknown_method");
  EXPECT_EQ(request(fd, R"({"id":4,"method":"logoff","params":{"timeout_ms":"soon"}})" "\n")["error"]["code"],
            "invalid_params");
  EXPECT_EQ(request(fd, R"({"id":5,"method":"logoff","params":{"wait":"yes"}})" "\n")["error"]["code"],
            "invalid_params");
  // The same connection still works after all that.
  EXPECT_EQ(request(fd, R"({"id":6,"method":"status"})" "\n")["ok"], true);
  close(fd);
  expect_vm_still_answers();
}

TEST_F(ControlSocketTest, HugeRequestIsRefusedAndTheConnectionClosed) {
  int fd = connect_socket();
  std::string huge(200 * 1024, 'x');
  send_all(fd, huge);
  auto response = nlohmann::json::parse(read_line(fd), nullptr, false);
  ASSERT_FALSE(response.is_discarded());
  EXPECT_EQ(response["error"]["code"], "request_too_large");
  close(fd);
  expect_vm_still_answers();
}

TEST_F(ControlSocketTest, ClientsThatVanishOrNeverSpeakDoNotStallTheVm) {
  // Many idle connections, some closed mid-request.
  std::vector<int> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(connect_socket());
  for (int i = 0; i < 20; ++i) {
    int fd = connect_socket();
    send_all(fd, R"({"id":1,"meth)");
    close(fd);
  }
  expect_vm_still_answers();
  for (int fd : idle) close(fd);
  vm_->write_stdin("echo alive\r");
  EXPECT_TRUE(vm_->wait_for_output("\nalive", 10s));
}

}  // namespace
}  // namespace kvpc
