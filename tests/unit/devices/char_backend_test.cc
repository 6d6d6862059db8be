#include "devices/char_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::as_bytes;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kvpc-char-backend-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(MakeCharBackendTest, UnknownSpecFailsNamingTheSpecAndTheAcceptedForms) {
  auto backend = make_char_backend("serial:/dev/ttyS0");

  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("serial:/dev/ttyS0"), std::string::npos);
  EXPECT_NE(backend.error().message.find("stdio, file:PATH or none"), std::string::npos);
}

TEST(MakeCharBackendTest, StdioIsDescribedAsStdio) {
  auto backend = make_char_backend("stdio");

  ASSERT_TRUE(backend.ok()) << backend.error().message;
  EXPECT_EQ((*backend)->description(), "stdio");
}

TEST(MakeCharBackendTest, StdioFailsAtSetUpWhenStandardOutputIsClosed) {
  const int saved_stdout = ::dup(STDOUT_FILENO);
  ASSERT_GE(saved_stdout, 0);
  ::close(STDOUT_FILENO);

  auto backend = make_char_backend("stdio");
  ::dup2(saved_stdout, STDOUT_FILENO);
  ::close(saved_stdout);

  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("standard output is not open"), std::string::npos);
}

TEST(MakeCharBackendTest, NoneDiscardsBytesAndCountsThemAsDropped) {
  auto backend = make_char_backend("none");
  ASSERT_TRUE(backend.ok()) << backend.error().message;

  (*backend)->write(as_bytes("hello"));

  EXPECT_EQ((*backend)->description(), "none");
  EXPECT_EQ((*backend)->stats().bytes_dropped, 5u);
  EXPECT_EQ((*backend)->stats().bytes_written, 0u);
}

TEST(FileCharBackendTest, EmptyPathIsRejected) {
  auto backend = make_char_backend("file:");

  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("path is empty"), std::string::npos);
}

TEST(FileCharBackendTest, PathInMissingDirectoryFailsSayingSo) {
  TempDir dir;
  const std::string path = (dir.path() / "missing" / "console.log").string();

  auto backend = make_char_backend("file:" + path);

  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find(path), std::string::npos);
  EXPECT_NE(backend.error().message.find("does not exist"), std::string::npos);
}

TEST(FileCharBackendTest, DirectoryIsRejected) {
  TempDir dir;

  auto backend = make_char_backend("file:" + dir.path().string());

  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("directory"), std::string::npos);
}

TEST(FileCharBackendTest, FifoWithoutReaderFailsInsteadOfHanging) {
  TempDir dir;
  const auto fifo = dir.path() / "console.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  auto backend = make_char_backend("file:" + fifo.string());

  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("FIFO"), std::string::npos);
}

TEST(FileCharBackendTest, WritesBytesInOrderAndCountsThem) {
  TempDir dir;
  const auto path = dir.path() / "console.log";
  auto backend = make_char_backend("file:" + path.string());
  ASSERT_TRUE(backend.ok()) << backend.error().message;

  (*backend)->write(as_bytes("boot "));
  (*backend)->write(as_bytes("ok\n"));

  EXPECT_EQ(read_file(path), "boot ok\n");
  EXPECT_EQ((*backend)->stats().bytes_written, 8u);
  EXPECT_EQ((*backend)->stats().write_errors, 0u);
  EXPECT_EQ((*backend)->description(), "file:" + path.string());
}

TEST(FileCharBackendTest, NewFileIsCreatedOwnerReadWriteOnly) {
  TempDir dir;
  const auto path = dir.path() / "console.log";

  auto backend = make_char_backend("file:" + path.string());

  ASSERT_TRUE(backend.ok()) << backend.error().message;
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST(FileCharBackendTest, ExistingFileIsAppendedTo) {
  TempDir dir;
  const auto path = dir.path() / "console.log";
  std::ofstream(path) << "earlier run\n";
  auto backend = make_char_backend("file:" + path.string());
  ASSERT_TRUE(backend.ok()) << backend.error().message;

  (*backend)->write(as_bytes("this run\n"));

  EXPECT_EQ(read_file(path), "earlier run\nthis run\n");
}

TEST(FileCharBackendTest, WriteErrorsAreCountedAndBytesDroppedWithoutFailing) {
  auto backend = make_char_backend("file:/dev/full");  // every write fails with ENOSPC
  ASSERT_TRUE(backend.ok()) << backend.error().message;

  (*backend)->write(as_bytes("lost"));
  (*backend)->write(as_bytes("also lost"));

  EXPECT_EQ((*backend)->stats().write_errors, 2u);
  EXPECT_EQ((*backend)->stats().bytes_dropped, 13u);
  EXPECT_EQ((*backend)->stats().bytes_written, 0u);
}

TEST(FileCharBackendTest, ConcurrentWritersNeverSplitOneCall) {
  TempDir dir;
  const auto path = dir.path() / "console.log";
  auto backend = make_char_backend("file:" + path.string());
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  const std::string line_a(100, 'a');
  const std::string line_b(100, 'b');

  std::vector<std::thread> writers;
  for (const std::string* line : {&line_a, &line_b}) {
    writers.emplace_back([&backend, line] {
      const std::string with_newline = *line + "\n";
      for (int i = 0; i < 200; ++i) (*backend)->write(as_bytes(with_newline));
    });
  }
  for (auto& writer : writers) writer.join();

  std::istringstream contents(read_file(path));
  int lines = 0;
  for (std::string line; std::getline(contents, line); ++lines) {
    EXPECT_TRUE(line == line_a || line == line_b) << "mixed line: " << line;
  }
  EXPECT_EQ(lines, 400);
}

TEST(CaptureCharBackendTest, TextReturnsEverythingWritten) {
  CaptureCharBackend capture;

  capture.write(as_bytes("hello, "));
  capture.write(as_bytes("world"));

  EXPECT_EQ(capture.text(), "hello, world");
  EXPECT_EQ(capture.size(), 12u);
  EXPECT_EQ(capture.stats().bytes_written, 12u);
}

TEST(CaptureCharBackendTest, ClearEmptiesTheBuffer) {
  CaptureCharBackend capture;
  capture.write(as_bytes("old"));

  capture.clear();
  capture.write(as_bytes("new"));

  EXPECT_EQ(capture.text(), "new");
}

TEST(CaptureCharBackendTest, BytesPastCapacityAreDroppedAndCounted) {
  CaptureCharBackend capture(4);

  capture.write(as_bytes("abcdef"));

  EXPECT_EQ(capture.text(), "abcd");
  EXPECT_EQ(capture.stats().bytes_dropped, 2u);
}

TEST(CaptureCharBackendTest, WaitForReturnsAtOnceWhenTextIsAlreadyThere) {
  CaptureCharBackend capture;
  capture.write(as_bytes("login: "));

  EXPECT_TRUE(capture.wait_for("login:", 0ms));
}

TEST(CaptureCharBackendTest, WaitForSeesTextWrittenLaterByAnotherThread) {
  CaptureCharBackend capture;

  std::thread writer([&capture] {
    std::this_thread::sleep_for(20ms);
    capture.write(as_bytes("kernel: rea"));
    std::this_thread::sleep_for(5ms);
    capture.write(as_bytes("dy\n"));
  });
  const bool found = capture.wait_for("ready", 5s);
  writer.join();

  EXPECT_TRUE(found);
}

TEST(CaptureCharBackendTest, WaitForTimesOutWhenTextNeverArrives) {
  CaptureCharBackend capture;
  capture.write(as_bytes("something else"));

  const auto start = std::chrono::steady_clock::now();
  const bool found = capture.wait_for("ready", 50ms);

  EXPECT_FALSE(found);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
}

}  // namespace
}  // namespace kvpc
