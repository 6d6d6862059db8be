// The lifecycle verbs against a running VM: list, pause, resume, stop.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::run_kvpc;

class CliControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_ = testing::make_runtime_dir();
    vm_ = std::make_unique<testing::KvpcProcess>(
        std::vector<std::string>{"run", "--accel", "emu", "--name", "ctl", "--mem", "32M"}, runtime_);
    ASSERT_TRUE(vm_->wait_for_output("kvpc> ", 20s)) << vm_->so_far().err;
  }
  void TearDown() override {
    vm_.reset();
    std::filesystem::remove_all(runtime_);
  }
  nlohmann::json list() {
    auto result = run_kvpc({"list", "--json"}, runtime_);
    EXPECT_EQ(result.status, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }
  std::string runtime_;
  std::unique_ptr<testing::KvpcProcess> vm_;
};

TEST_F(CliControlTest, ListShowsTheRunningVm) {
  auto listed = list();
  ASSERT_TRUE(listed.contains("vms"));
  ASSERT_EQ(listed["vms"].size(), 1u);
  EXPECT_EQ(listed["vms"][0]["vm"], "ctl");
  EXPECT_EQ(listed["vms"][0]["state"], "Running");
  EXPECT_EQ(listed["vms"][0]["accelerator"], "emu");
  EXPECT_EQ(listed["vms"][0]["memory_bytes"], 32u << 20);
  auto table = run_kvpc({"list"}, runtime_);
  EXPECT_NE(table.out.find("ctl"), std::string::npos);
  EXPECT_NE(table.out.find("NAME"), std::string::npos);
}

TEST_F(CliControlTest, PauseThenResume) {
  auto paused = run_kvpc({"pause", "ctl", "--json"}, runtime_);
  EXPECT_EQ(paused.status, 0) << paused.err;
  EXPECT_EQ(nlohmann::json::parse(paused.out)["state"], "Paused");
  EXPECT_EQ(list()["vms"][0]["state"], "Paused");
  vm_->write_stdin("echo after resume\r");
  EXPECT_FALSE(vm_->wait_for_output("\nafter resume", 300ms));
  auto resumed = run_kvpc({"resume", "ctl"}, runtime_);
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_TRUE(vm_->wait_for_output("\nafter resume", 10s));
}

TEST_F(CliControlTest, StopEndsTheRunWithStatusZero) {
  auto stopped = run_kvpc({"stop", "ctl"}, runtime_);
  EXPECT_EQ(stopped.status, 0) << stopped.err;
  auto result = vm_->wait(20s);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(list()["vms"].size(), 0u);
}

TEST_F(CliControlTest, ResumeOfARunningVmIsHarmless) {
  auto resumed = run_kvpc({"resume", "ctl", "--json"}, runtime_);
  EXPECT_EQ(resumed.status, 0);
  EXPECT_EQ(nlohmann::json::parse(resumed.out)["state"], "Running");
}

}  // namespace
}  // namespace kvpc
