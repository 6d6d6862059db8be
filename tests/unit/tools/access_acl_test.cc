// The ACL kvpc puts on a shared control socket and runtime folder: the xattr encoding (what
// the kernel parses), and the grants applied to real files in a temporary folder.
#include <gtest/gtest.h>

#include <linux/posix_acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "tools/access_acl.h"
#include "tools/runtime_dir.h"
#include "tools/runtime_folder_acl.h"

namespace kvpc {
namespace {

constexpr uint32_t kNoId = static_cast<uint32_t>(ACL_UNDEFINED_ID);

TEST(AccessAcl, EncodingIsSortedLittleEndianAndRoundTrips) {
  std::vector<AclEntry> entries = {{ACL_OTHER, 0, kNoId}, {ACL_USER, 6, 1001}, {ACL_MASK, 6, kNoId},
                                   {ACL_USER_OBJ, 6, kNoId}, {ACL_USER, 6, 1000}, {ACL_GROUP_OBJ, 0, kNoId}};
  auto bytes = encode_access_acl(entries);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  ASSERT_EQ(bytes->size(), 4u + 6 * 8);
  EXPECT_EQ((std::vector<uint8_t>(bytes->begin(), bytes->begin() + 12)),
            (std::vector<uint8_t>{2, 0, 0, 0, ACL_USER_OBJ, 0, 6, 0, 0xFF, 0xFF, 0xFF, 0xFF}));
  // The second entry: ACL_USER 1000 (0x3E8), before 1001.
  EXPECT_EQ((std::vector<uint8_t>(bytes->begin() + 12, bytes->begin() + 20)),
            (std::vector<uint8_t>{ACL_USER, 0, 6, 0, 0xE8, 0x03, 0, 0}));
  auto decoded = decode_access_acl(*bytes);
  ASSERT_TRUE(decoded.ok());
  std::sort(entries.begin(), entries.end(),
            [](const AclEntry& a, const AclEntry& b) { return std::tie(a.tag, a.id) < std::tie(b.tag, b.id); });
  EXPECT_EQ(*decoded, entries);
}

TEST(AccessAcl, IncompleteOrDuplicatedAclsAreRefused) {
  EXPECT_FALSE(encode_access_acl({{ACL_USER_OBJ, 6, kNoId}}).ok());
  EXPECT_FALSE(encode_access_acl({{ACL_USER_OBJ, 6, kNoId}, {ACL_GROUP_OBJ, 0, kNoId}, {ACL_OTHER, 0, kNoId},
                                  {ACL_USER, 6, 5}})
                   .ok())
      << "named entries need a mask";
  auto duplicate = encode_access_acl({{ACL_USER_OBJ, 6, kNoId}, {ACL_GROUP_OBJ, 0, kNoId}, {ACL_OTHER, 0, kNoId},
                                      {ACL_MASK, 6, kNoId}, {ACL_USER, 6, 5}, {ACL_USER, 4, 5}});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message.find("uid 5 twice"), std::string::npos) << duplicate.error().message;
  EXPECT_FALSE(decode_access_acl({2, 0, 0}).ok());
  EXPECT_FALSE(decode_access_acl({1, 0, 0, 0}).ok()) << "version 1";
}

class AccessAclOnFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kvpc-acl-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    file_ = (dir_ / "file").string();
    std::ofstream(file_) << "x";
    chmod(file_.c_str(), 0600);
    // Skip where the temp folder's file system has no ACLs (the error path is checked below).
    auto probe = read_access_acl(file_);
    if (!probe) GTEST_SKIP() << "skipped: " << probe.error().message;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string file_;
};

TEST_F(AccessAclOnFiles, SetGrantsExactlyTheNamedUsersAndGroups) {
  ASSERT_TRUE(set_access_acl(file_, 6, AclGrant{{4242, 4243, getuid()}, {777}, 6}).ok());
  auto acl = read_access_acl(file_);
  ASSERT_TRUE(acl.ok()) << acl.error().message;
  std::vector<AclEntry> expected = {{ACL_USER_OBJ, 6, kNoId}, {ACL_USER, 6, 4242}, {ACL_USER, 6, 4243},
                                    {ACL_GROUP_OBJ, 0, kNoId}, {ACL_GROUP, 6, 777},  {ACL_MASK, 6, kNoId},
                                    {ACL_OTHER, 0, kNoId}};
  EXPECT_EQ(*acl, expected) << "the owner's own uid is not repeated as a named entry";
  struct stat info {};
  ASSERT_EQ(stat(file_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0660u) << "group bits show the mask; other gets nothing";
}

// The runtime folder grants search to exactly the users and groups its sockets grant, and
// goes back to a plain 0700 folder when the last granting socket is gone.
TEST_F(AccessAclOnFiles, RuntimeFolderGrantsFollowTheSocketsInIt) {
  const std::string folder = (dir_ / "folder").string();
  ASSERT_EQ(mkdir(folder.c_str(), 0700), 0);
  const std::string a = socket_path_for(folder, "a"), b = socket_path_for(folder, "b"), c = socket_path_for(folder, "c");
  for (const auto& path : {a, b, c}) std::ofstream(path) << "";  // stand-ins: only the name and ACL matter
  ASSERT_TRUE(set_access_acl(a, 6, AclGrant{{4242}, {99}, 6}).ok());
  ASSERT_TRUE(set_access_acl(b, 6, AclGrant{{4243, 4242}, {}, 6}).ok());
  ASSERT_TRUE(sync_runtime_folder_acl(folder).ok());  // c grants nobody
  auto acl = read_access_acl(folder);
  ASSERT_TRUE(acl.ok());
  std::vector<AclEntry> expected = {{ACL_USER_OBJ, 7, kNoId}, {ACL_USER, 1, 4242}, {ACL_USER, 1, 4243},
                                    {ACL_GROUP_OBJ, 0, kNoId}, {ACL_GROUP, 1, 99},   {ACL_MASK, 1, kNoId},
                                    {ACL_OTHER, 0, kNoId}};
  EXPECT_EQ(*acl, expected);
  struct stat info {};
  ASSERT_EQ(stat(folder.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0710u);

  // a's VM stops: 4242 stays (b grants it too), group 99 goes.
  ASSERT_EQ(unlink(a.c_str()), 0);
  ASSERT_TRUE(sync_runtime_folder_acl(folder).ok());
  acl = read_access_acl(folder);
  ASSERT_TRUE(acl.ok());
  expected = {{ACL_USER_OBJ, 7, kNoId}, {ACL_USER, 1, 4242}, {ACL_USER, 1, 4243},
              {ACL_GROUP_OBJ, 0, kNoId}, {ACL_MASK, 1, kNoId}, {ACL_OTHER, 0, kNoId}};
  EXPECT_EQ(*acl, expected);

  // The last granting socket goes: no ACL at all, the private mode again (twice: idempotent).
  ASSERT_EQ(unlink(b.c_str()), 0);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(sync_runtime_folder_acl(folder).ok());
    acl = read_access_acl(folder);
    ASSERT_TRUE(acl.ok());
    EXPECT_TRUE(acl->empty()) << acl->size() << " entries left";
    ASSERT_EQ(stat(folder.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0700u);
  }
}

// Several kvpc processes of one user start granted VMs at the same instant: each sync holds
// the folder's lock, so the sync that writes last has seen every socket granted before it
// began, and no grant is lost. (Without the lock, one writer's stale read overwrites another's
// grant; this test caught that in most runs on 2 cores.)
TEST_F(AccessAclOnFiles, ConcurrentRuntimeFolderSyncsLoseNoGrant) {
  const std::string folder = (dir_ / "folder").string();
  ASSERT_EQ(mkdir(folder.c_str(), 0700), 0);
  constexpr int kWriters = 4;
  constexpr int kRounds = 300;
  std::barrier start(kWriters + 1), done(kWriters + 1);
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string path = socket_path_for(folder, "vm" + std::to_string(w));
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();  // every socket is gone and the folder synced
        std::ofstream(path) << "";
        if (!set_access_acl(path, 6, AclGrant{{5000u + static_cast<uint32_t>(w)}, {}, 6}).ok()) ++failures;
        if (!sync_runtime_folder_acl(folder).ok()) ++failures;
        done.arrive_and_wait();
      }
    });
  }
  int lost_rounds = 0;
  for (int round = 0; round < kRounds; ++round) {
    start.arrive_and_wait();
    done.arrive_and_wait();
    auto acl = read_access_acl(folder);
    ASSERT_TRUE(acl.ok());
    for (int w = 0; w < kWriters; ++w) {
      const AclEntry want{ACL_USER, 1, 5000u + static_cast<uint32_t>(w)};
      if (std::find(acl->begin(), acl->end(), want) == acl->end()) {
        ++lost_rounds;
        break;
      }
    }
    for (int w = 0; w < kWriters; ++w) unlink(socket_path_for(folder, "vm" + std::to_string(w)).c_str());
    ASSERT_TRUE(sync_runtime_folder_acl(folder).ok());
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(lost_rounds, 0) << "rounds in which a grant was missing from the folder's ACL";
}

TEST(AccessAcl, FileSystemWithoutAclsGivesAClearError) {
  // sysfs has no POSIX ACLs: the grant fails (it never falls back to opening the file).
  auto grant = set_access_acl("/sys/kernel/mm", 6, AclGrant{{4242}, {}, 6});
  ASSERT_FALSE(grant.ok());
  EXPECT_NE(grant.error().message.find("/sys/kernel/mm"), std::string::npos) << grant.error().message;
}

}  // namespace
}  // namespace kvpc
