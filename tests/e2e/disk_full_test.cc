// A disk whose host file system fills up: the guest (virtio_blk_fill) writes 64 KiB chunks
// until a write fails. What must hold:
//   - the failing request completes with VIRTIO_BLK_S_IOERR (1): not success, not a hang;
//   - kvpc keeps running: the control socket answers `list` and `stats`, the device still
//     serves a read of the last acknowledged chunk and a FLUSH, the guest exits when told;
//   - every chunk the guest got S_OK for is in the image, byte for byte;
//   - a dynamic VHD whose block allocation failed is still a valid VHD (`kvpc disk info`
//     accepts it, and it reads back through the parser).
// The small file system is a size-limited tmpfs mounted in a private mount namespace of this
// test process (as root), or in a user + mount namespace when unprivileged namespaces are
// allowed; otherwise the test says why it is skipped.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "storage/block_image.h"
#include "storage/vhd_image.h"
#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::guest_blob;
using testing::KvpcProcess;
using testing::run_kvpc;

constexpr uint64_t kChunkBytes = 64 * 1024;  // guest-firmware/tests/virtio_blk_fill.asm
constexpr uint64_t kPatternTag = 0xD15C000000000000ULL;
constexpr int kVirtioBlkIoError = 1;
constexpr int kGuestQuit = (0x44 << 1) | 1;

bool write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// A tmpfs of `size` at a fresh folder, visible only to this process and its children.
// skip_reason() is non-empty when no such mount could be made.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const std::string& size) {
    if (::geteuid() != 0) {
      // Unprivileged: become root of a new user namespace (mapped to our own uid) that owns
      // a new mount namespace. Needs a single-threaded process and the kernel's consent.
      const uid_t uid = ::geteuid();
      const gid_t gid = ::getegid();
      if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        skip_ = fmt("not root, and unshare(CLONE_NEWUSER|CLONE_NEWNS) failed", errno);
        return;
      }
      if (!write_file("/proc/self/setgroups", "deny") ||
          !write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
          !write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")) {
        skip_ = fmt("not root, and writing the new user namespace's uid/gid map failed", errno);
        return;
      }
    } else if (::unshare(CLONE_NEWNS) != 0) {
      skip_ = fmt("unshare(CLONE_NEWNS) failed", errno);
      return;
    }
    // Nothing mounted here may propagate back to the host's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      skip_ = fmt("making / a private mount failed", errno);
      return;
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "kvpc-diskfull-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      skip_ = fmt("mkdtemp failed", errno);
      return;
    }
    path_ = pattern;
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      skip_ = fmt("mount -t tmpfs -o " + options + " failed", errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  const std::string& skip_reason() const { return skip_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  static std::string fmt(const std::string& what, int error) { return what + ": " + std::strerror(error); }
  std::string path_;
  std::string skip_;
  bool mounted_ = false;
};

// Chunk i as the guest wrote it: qword j = tag | i << 16 | j.
std::vector<uint8_t> expected_chunk(uint64_t index) {
  std::vector<uint8_t> bytes(kChunkBytes);
  for (uint64_t j = 0; j < kChunkBytes / 8; ++j) {
    const uint64_t value = kPatternTag | index << 16 | j;
    std::memcpy(bytes.data() + j * 8, &value, 8);
  }
  return bytes;
}

struct FillReport {
  bool complete = false;  // all four lines seen
  uint64_t acknowledged = 0;
  std::string failure;  // the first failing status, "none" if every write succeeded
  int readback_status = -1;
  int readback_match = -1;
  int flush_status = -1;
};

FillReport parse_report(const std::string& out) {
  FillReport report;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(fill: ok=(\d+) status=(\w+))"))) {
    report.acknowledged = std::stoull(m[1]);
    report.failure = m[2];
  }
  if (std::regex_search(out, m, std::regex(R"(readback: status=(\d+) match=(\d))"))) {
    report.readback_status = std::stoi(m[1]);
    report.readback_match = std::stoi(m[2]);
  }
  if (std::regex_search(out, m, std::regex(R"(flush: status=(\d+))"))) report.flush_status = std::stoi(m[1]);
  report.complete = out.find("fill: waiting") != std::string::npos;
  return report;
}

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_ = testing::make_runtime_dir(); }
  void TearDown() override { std::filesystem::remove_all(runtime_); }

  // Runs the fill guest on `image` until it reports, checks the guest's and kvpc's side,
  // then lets the guest exit. Returns the guest's report.
  FillReport fill(const std::string& image) {
    KvpcProcess vm({"run", "--accel", "emu", "--name", "full", "--mem", "32M", "--kernel", guest_blob("virtio_blk_fill"),
                    "--disk", image},
                   runtime_);
    EXPECT_TRUE(vm.wait_for_output("fill: waiting", 120s)) << "stdout: " << vm.so_far().out << "\nstderr: " << vm.so_far().err;
    FillReport report = parse_report(vm.so_far().out);
    EXPECT_TRUE(report.complete) << vm.so_far().out;
    EXPECT_EQ(report.failure, std::to_string(kVirtioBlkIoError)) << "the write that did not fit must end with IOERR\n"
                                                                  << vm.so_far().out;
    EXPECT_GT(report.acknowledged, 0u) << vm.so_far().out;
    EXPECT_EQ(report.readback_status, 0) << "the device still reads after the error\n" << vm.so_far().out;
    EXPECT_EQ(report.readback_match, 1) << vm.so_far().out;
    EXPECT_EQ(report.flush_status, 0) << vm.so_far().out;
    EXPECT_NE(vm.so_far().err.find("No space left on device"), std::string::npos)
        << "kvpc names the host error: " << vm.so_far().err;

    // The VMM is still up and answering.
    auto listed = run_kvpc({"list", "--json"}, runtime_, "", 20s);
    EXPECT_EQ(listed.status, 0) << listed.err;
    auto vms = nlohmann::json::parse(listed.out, nullptr, false);
    EXPECT_FALSE(vms.is_discarded()) << listed.out;
    if (!vms.is_discarded() && vms["vms"].size() == 1) {
      EXPECT_EQ(vms["vms"][0].value("state", ""), "Running") << listed.out;
    } else {
      ADD_FAILURE() << "one running VM expected: " << listed.out;
    }
    auto stats = run_kvpc({"stats", "full", "--json"}, runtime_, "", 20s);
    EXPECT_EQ(stats.status, 0) << stats.err;

    vm.write_stdin("q");
    auto ended = vm.wait(30s);
    EXPECT_FALSE(ended.timed_out);
    EXPECT_EQ(ended.status, kGuestQuit) << ended.err;
    return report;
  }

  // Every acknowledged chunk reads back from `image` exactly as written.
  static void expect_chunks(BlockImage& image, uint64_t acknowledged) {
    std::vector<uint8_t> bytes(kChunkBytes);
    for (uint64_t i = 0; i < acknowledged; ++i) {
      auto status = image.read(i * kChunkBytes, bytes);
      ASSERT_TRUE(status.ok()) << "chunk " << i << ": " << status.error().message;
      ASSERT_TRUE(bytes == expected_chunk(i)) << "acknowledged chunk " << i << " of " << acknowledged << " differs";
    }
  }

  std::string runtime_;
};

TEST_F(DiskFullTest, RawImageWriteErrorReachesGuestAndAcknowledgedChunksSurvive) {
  SmallTmpfs tmpfs("2m");
  if (!tmpfs.skip_reason().empty()) GTEST_SKIP() << "skipped: " << tmpfs.skip_reason();
  const std::string image = tmpfs.file("disk.img");
  // A sparse 64 MiB image on 2 MiB of space.
  auto created = run_kvpc({"disk", "create", image, "--size", "64M", "--format", "raw"}, runtime_);
  ASSERT_EQ(created.status, 0) << created.err;

  FillReport report = fill(image);
  // 2 MiB hold at most 32 chunks (the image's last sector takes a page too).
  EXPECT_LT(report.acknowledged, 32u);
  EXPECT_GE(report.acknowledged, 24u) << "most of the space is usable";

  auto reopened = open_block_image(image, ImageFormat::kRaw, true);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  expect_chunks(**reopened, report.acknowledged);
  std::cout << "[ figures ] raw on a 2 MiB tmpfs: " << report.acknowledged << " chunks of 64 KiB acknowledged, write "
            << report.acknowledged + 1 << " failed with IOERR\n";
}

TEST_F(DiskFullTest, DynamicVhdFailedBlockAllocationLeavesAValidImage) {
  SmallTmpfs tmpfs("5m");
  if (!tmpfs.skip_reason().empty()) GTEST_SKIP() << "skipped: " << tmpfs.skip_reason();
  const std::string image = tmpfs.file("disk.vhd");
  auto created = run_kvpc({"disk", "create", image, "--size", "64M"}, runtime_);
  ASSERT_EQ(created.status, 0) << created.err;

  FillReport report = fill(image);
  // 5 MiB hold the metadata and two 2 MiB blocks (+ bitmaps) but not a third: the write
  // that needs the third block fails, after exactly 2 blocks' worth of 64 KiB chunks.
  EXPECT_EQ(report.acknowledged, 2 * (2u << 20) / kChunkBytes);

  auto info = run_kvpc({"disk", "info", image}, runtime_);
  EXPECT_EQ(info.status, 0) << "the VHD must still parse: " << info.err;
  EXPECT_NE(info.out.find("allocated blocks: 2"), std::string::npos) << info.out;

  auto reopened = open_block_image(image, ImageFormat::kVhd, true);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  expect_chunks(**reopened, report.acknowledged);
  // The block whose allocation failed is not referenced: it reads as zeros.
  std::vector<uint8_t> bytes(kChunkBytes);
  ASSERT_TRUE((*reopened)->read(report.acknowledged * kChunkBytes, bytes).ok());
  EXPECT_TRUE(std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; }));
  std::cout << "[ figures ] dynamic VHD on a 5 MiB tmpfs: " << report.acknowledged
            << " chunks of 64 KiB acknowledged (2 blocks), the third block's allocation failed with IOERR\n";
}

}  // namespace
}  // namespace kvpc
