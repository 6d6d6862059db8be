// Interoperability with Debian's qemu-img (qemu-utils): an image qemu-img converts to VHD
// ("vpc") opens in kvpc with identical bytes, and images kvpc created and wrote are accepted by
// qemu-img and hold the bytes kvpc wrote. Skipped, with the reason, where qemu-img is not
// installed (tools/setup-debian.sh installs it).
//
// `qemu-img check` has no checker for vpc (qemu-utils 7.2 exits 63, "This image format does not
// support checks"), so acceptance is: `qemu-img check` exits 0 or 63 (never a corruption status
// 2/3), `qemu-img info` parses the image with the expected virtual size, and `qemu-img compare`
// (which reads every sector through qemu's vpc driver) finds it identical to the expected bytes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "storage/block_image.h"
#include "storage/vhd_image.h"
#include "tests/unit/storage/vhd_test_images.h"

namespace kvpc {
namespace {

namespace fs = std::filesystem;

bool have_qemu_img() { return std::system("qemu-img --version >/dev/null 2>&1") == 0; }

#define SKIP_WITHOUT_QEMU_IMG() \
  if (!have_qemu_img()) GTEST_SKIP() << "skipped: qemu-img is not installed (Debian package qemu-utils)"

class QemuImgInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kvpc-qemu-img-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const char* name) const { return (dir_ / name).string(); }

  // Runs a shell command; returns its exit status and captures stdout+stderr.
  int run(const std::string& command, std::string* output = nullptr) const {
    std::string full = command + " 2>&1";
    FILE* pipe = ::popen(full.c_str(), "r");
    if (pipe == nullptr) return -1;
    std::string text;
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, n);
    int status = ::pclose(pipe);
    if (output) *output = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static void write_file(const std::string& file, const std::vector<uint8_t>& bytes) {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  static std::vector<uint8_t> read_file(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

  // Raw contents with data in scattered places and big zero runs (so dynamic blocks stay sparse).
  static std::vector<uint8_t> scattered_contents(size_t size) {
    std::vector<uint8_t> bytes(size, 0);
    auto a = testing::pattern(4096, 1);
    auto b = testing::pattern(64 * 1024, 2);
    std::copy(a.begin(), a.end(), bytes.begin());
    std::copy(b.begin(), b.end(), bytes.begin() + (3 << 20) + 512);
    std::copy(a.begin(), a.end(), bytes.end() - 4096);
    return bytes;
  }

  void expect_kvpc_reads(const std::string& file, const std::vector<uint8_t>& expected, const char* format_name) {
    auto image = open_block_image(file, ImageFormat::kAuto, true);
    ASSERT_TRUE(image.ok()) << image.error().message;
    EXPECT_EQ((*image)->format_name(), format_name);
    ASSERT_GE((*image)->size_bytes(), expected.size());
    std::vector<uint8_t> out((*image)->size_bytes());
    ASSERT_TRUE((*image)->read(0, out).ok());
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), out.begin())) << "contents differ";
    // Whatever the geometry rounding added reads as zeros.
    EXPECT_TRUE(std::all_of(out.begin() + static_cast<long>(expected.size()), out.end(), [](uint8_t v) { return v == 0; }));
  }

  void expect_qemu_img_check_accepts(const std::string& file) const {
    std::string output;
    int status = run("qemu-img check -f vpc " + file, &output);
    EXPECT_TRUE(status == 0 || (status == 63 && output.find("does not support checks") != std::string::npos))
        << "qemu-img check exited " << status << ": " << output;
  }

  fs::path dir_;
};

TEST_F(QemuImgInterop, DynamicVhdFromQemuImgConvertReadsBackIdentically) {
  SKIP_WITHOUT_QEMU_IMG();
  auto contents = scattered_contents(8 << 20);
  write_file(path("src.raw"), contents);
  std::string output;
  ASSERT_EQ(run("qemu-img convert -f raw -O vpc " + path("src.raw") + " " + path("disk.vhd"), &output), 0) << output;
  expect_kvpc_reads(path("disk.vhd"), contents, "vhd-dynamic");
}

TEST_F(QemuImgInterop, FixedVhdFromQemuImgConvertReadsBackIdentically) {
  SKIP_WITHOUT_QEMU_IMG();
  auto contents = scattered_contents(8 << 20);
  write_file(path("src.raw"), contents);
  std::string output;
  ASSERT_EQ(run("qemu-img convert -f raw -O vpc -o subformat=fixed " + path("src.raw") + " " + path("disk.vhd"), &output), 0)
      << output;
  expect_kvpc_reads(path("disk.vhd"), contents, "vhd-fixed");
}

TEST_F(QemuImgInterop, ImageKvpcWrotePassesQemuImgCheckAndConvertsToTheBytesWritten) {
  SKIP_WITHOUT_QEMU_IMG();
  for (bool fixed : {false, true}) {
    SCOPED_TRACE(fixed ? "fixed" : "dynamic");
    const std::string file = path(fixed ? "kvpc-fixed.vhd" : "kvpc-dynamic.vhd");
    DiskCreateOptions options;
    options.size_bytes = 10 << 20;
    options.fixed = fixed;
    auto size = create_image_file(file, options);
    ASSERT_TRUE(size.ok()) << size.error().message;
    std::vector<uint8_t> expected(*size, 0);
    {
      auto image = open_block_image(file, ImageFormat::kVhd, false);
      ASSERT_TRUE(image.ok()) << image.error().message;
      auto a = testing::pattern(8192, 5);
      auto b = testing::pattern(3 << 20, 6);  // spans two 2 MiB blocks
      ASSERT_TRUE((*image)->write(1 << 20, a).ok());
      ASSERT_TRUE((*image)->write((4 << 20) + 4096, b).ok());
      ASSERT_TRUE((*image)->flush().ok());
      std::copy(a.begin(), a.end(), expected.begin() + (1 << 20));
      std::copy(b.begin(), b.end(), expected.begin() + (4 << 20) + 4096);
    }
    std::string output;
    expect_qemu_img_check_accepts(file);
    ASSERT_EQ(run("qemu-img info -f vpc " + file, &output), 0) << output;
    EXPECT_NE(output.find("(" + std::to_string(*size) + " bytes)"), std::string::npos)
        << "qemu-img sees a different virtual size: " << output;
    const std::string raw = file + ".raw";
    ASSERT_EQ(run("qemu-img convert -f vpc -O raw " + file + " " + raw, &output), 0) << output;
    EXPECT_EQ(read_file(raw), expected);
    write_file(file + ".expected", expected);
    EXPECT_EQ(run("qemu-img compare -f vpc -F raw " + file + " " + file + ".expected", &output), 0) << output;
  }
}

TEST_F(QemuImgInterop, KvpcWritesIntoAQemuImgImageAndQemuImgReadsThem) {
  SKIP_WITHOUT_QEMU_IMG();
  std::string output;
  ASSERT_EQ(run("qemu-img create -f vpc " + path("q.vhd") + " 16M", &output), 0) << output;
  uint64_t size = 0;
  auto data = testing::pattern(2 << 20, 9);
  {
    auto image = open_block_image(path("q.vhd"), ImageFormat::kAuto, false);
    ASSERT_TRUE(image.ok()) << image.error().message;
    size = (*image)->size_bytes();
    ASSERT_TRUE((*image)->write(1 << 20, data).ok());
  }
  expect_qemu_img_check_accepts(path("q.vhd"));
  ASSERT_EQ(run("qemu-img convert -f vpc -O raw " + path("q.vhd") + " " + path("q.raw"), &output), 0) << output;
  auto raw = read_file(path("q.raw"));
  ASSERT_EQ(raw.size(), size);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), raw.begin() + (1 << 20)));
}

}  // namespace
}  // namespace kvpc
