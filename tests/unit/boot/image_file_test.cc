#include "vmm/boot/image_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

class ImageFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kvpc_image_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string write_file(const std::string& name, const Bytes& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::string error_of(const std::string& path, uint64_t max = 1 << 20) {
    auto r = read_image_file(path, max);
    return r ? std::string("<ok>") : r.error().message;
  }
  std::string dir_;
};

TEST_F(ImageFileTest, ReadsTheWholeFile) {
  Bytes bytes = test::pattern(200000, 3);  // several read() chunks
  auto r = read_image_file(write_file("k.bin", bytes), 1 << 20);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, bytes);
}

TEST_F(ImageFileTest, ExactlyAtTheLimitIsFine) {
  auto path = write_file("k.bin", Bytes(4096, 1));
  EXPECT_EQ(error_of(path, 4096), "<ok>");
  EXPECT_EQ(error_of(path, 4095), fmt::format("'{}' is 4096 bytes, more than the limit of 4095 bytes", path));
}

TEST_F(ImageFileTest, Missing) {
  EXPECT_EQ(error_of(dir_ + "/nope.bin"), fmt::format("'{}/nope.bin' does not exist", dir_));
  EXPECT_EQ(error_of(""), "no file name given");
}

TEST_F(ImageFileTest, Directory) { EXPECT_EQ(error_of(dir_), fmt::format("'{}' is a directory, not an image file", dir_)); }

TEST_F(ImageFileTest, Empty) {
  auto path = write_file("empty.bin", {});
  EXPECT_EQ(error_of(path), fmt::format("'{}' is empty", path));
}

TEST_F(ImageFileTest, PermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  auto path = write_file("secret.bin", Bytes(10, 1));
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  EXPECT_EQ(error_of(path), fmt::format("'{}' is not readable: permission denied", path));
}

TEST_F(ImageFileTest, ReadErrorsAreReported) {
  // Opens fine (even as root) but reading offset 0 of our own address space fails.
  EXPECT_THAT(error_of("/proc/self/mem"), HasSubstr("cannot read '/proc/self/mem': "));
}

TEST_F(ImageFileTest, NotAFileNameComponent) {
  auto path = write_file("file.bin", Bytes(10, 1));
  EXPECT_THAT(error_of(path + "/child"), HasSubstr("cannot open"));
}

TEST_F(ImageFileTest, StreamsWithoutASizeAreCappedWhileReading) {
  EXPECT_EQ(error_of("/dev/zero", 100000), "'/dev/zero' is at least 131072 bytes, more than the limit of 100000 bytes");
}

}  // namespace
}  // namespace kvpc
