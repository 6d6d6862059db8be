// `kvpc disk create|info` and `kvpc run --disk/--boot` as a user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using testing::guest_blob;
using testing::run_kvpc;

class CliDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_ = testing::make_runtime_dir();
    ASSERT_FALSE(runtime_.empty());
  }
  void TearDown() override { std::filesystem::remove_all(runtime_); }
  std::string file(const char* name) const { return runtime_ + "/" + name; }
  std::string runtime_;
};

TEST_F(CliDiskTest, CreatedVhdIsReportedByInfo) {
  auto created = run_kvpc({"disk", "create", file("a.vhd"), "--size", "8M"}, runtime_);
  ASSERT_EQ(created.status, 0) << created.err;
  EXPECT_NE(created.out.find("vhd-dynamic"), std::string::npos) << created.out;
  auto info = run_kvpc({"disk", "info", file("a.vhd")}, runtime_);
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_NE(info.out.find("format: vhd-dynamic"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("allocated blocks: 0"), std::string::npos) << info.out;
  // Creating over an existing file is refused.
  auto again = run_kvpc({"disk", "create", file("a.vhd"), "--size", "8M"}, runtime_);
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.err.find("File exists"), std::string::npos) << again.err;
}

TEST_F(CliDiskTest, GuestWritesThroughRunDiskAndTheImageGrows) {
  ASSERT_EQ(run_kvpc({"disk", "create", file("g.vhd"), "--size", "8M"}, runtime_).status, 0);
  auto run = run_kvpc({"run", "--accel", "emu", "-q", "--serial", "none", "--kernel", guest_blob("virtio_blk_rw"),
                       "--disk", file("g.vhd")},
                      runtime_);
  EXPECT_EQ(run.status, (0x44 << 1) | 1) << run.err;
  auto info = run_kvpc({"disk", "info", file("g.vhd")}, runtime_);
  EXPECT_NE(info.out.find("allocated blocks: 1"), std::string::npos) << info.out;
}

TEST_F(CliDiskTest, ReadonlyDiskMakesTheGuestsWriteFail) {
  ASSERT_EQ(run_kvpc({"disk", "create", file("r.img"), "--size", "8M", "--format", "raw"}, runtime_).status, 0);
  auto run = run_kvpc({"run", "--accel", "emu", "-q", "--serial", "none", "--kernel", guest_blob("virtio_blk_rw"),
                       "--disk", file("r.img") + ",format=raw,readonly"},
                      runtime_);
  EXPECT_EQ(run.status, (0x52 << 1) | 1) << "the OUT request must fail with IOERR: " << run.err;
}

TEST_F(CliDiskTest, BadDiskArgumentsAreNamed) {
  ASSERT_EQ(run_kvpc({"disk", "create", file("ok.vhd"), "--size", "8M"}, runtime_).status, 0);
  {
    std::ofstream bad(file("bad.vhd"), std::ios::binary);
    std::string junk(4096, 'x');
    bad << junk;
  }
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"run", "--accel", "emu", "--disk", file("ok.vhd") + ",format=qcow2"}, "format qcow2 is not raw or vhd"},
      {{"run", "--accel", "emu", "--disk", file("ok.vhd") + ",cache=none"}, "unknown option 'cache=none'"},
      {{"run", "--accel", "emu", "--disk", "/no/such/disk.img"}, "/no/such/disk.img"},
      {{"run", "--accel", "emu", "--disk", file("bad.vhd"), "--kernel", guest_blob("debug_exit")},
       "cookie is not \"conectix\""},
      {{"run", "--accel", "emu", "--boot", "floppy"}, "--boot floppy: use disk or kernel"},
      {{"run", "--accel", "emu", "--boot", "disk", "--kernel", guest_blob("debug_exit"), "--disk", file("ok.vhd")},
       "--boot disk and --kernel exclude each other"},
      {{"run", "--accel", "emu", "--boot", "disk"}, "--boot disk needs a --disk"},
      {{"disk", "create", file("x.vhd"), "--size", "8M", "--format", "raw", "--fixed"}, "--fixed applies to vhd"},
  };
  for (const auto& c : cases) {
    auto result = run_kvpc(c.args, runtime_);
    EXPECT_EQ(result.status, 2) << c.message;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << "expected '" << c.message << "' in: " << result.err;
  }
}

}  // namespace
}  // namespace kvpc
