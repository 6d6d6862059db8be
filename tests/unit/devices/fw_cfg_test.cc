// fw_cfg: signature and ID, numbered items, the file directory, file contents, unknown keys.
#include "devices/fw_cfg.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::read_port;
using testing::write_port;

std::vector<uint8_t> read_item(FwCfg& fw, uint16_t key, size_t n) {
  write_port(fw, 0, key, 2);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(read_port(fw, 1)));
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

TEST(FwCfg, SignatureAndTraditionalInterfaceId) {
  FwCfg fw;
  EXPECT_EQ(read_item(fw, FwCfg::kSignature, 4), (std::vector<uint8_t>{'Q', 'E', 'M', 'U'}));
  EXPECT_EQ(read_item(fw, FwCfg::kId, 4), (std::vector<uint8_t>{1, 0, 0, 0})) << "no DMA bit";
}

TEST(FwCfg, ReadsPastTheEndAndUnknownKeysReturnZero) {
  FwCfg fw;
  EXPECT_EQ(read_item(fw, FwCfg::kSignature, 6), (std::vector<uint8_t>{'Q', 'E', 'M', 'U', 0, 0}));
  EXPECT_EQ(read_item(fw, 0x1234, 3), (std::vector<uint8_t>{0, 0, 0}));
  write_port(fw, 1, 0xFF);  // data writes are ignored
  EXPECT_EQ(read_item(fw, FwCfg::kSignature, 1), (std::vector<uint8_t>{'Q'})) << "selecting rewinds";
}

TEST(FwCfg, DirectoryNamesFilesAndTheirSelectors) {
  FwCfg fw;
  ASSERT_TRUE(fw.add_file("etc/a", {1, 2, 3}).ok());
  ASSERT_TRUE(fw.add_file("bootorder", {'x', '\n'}).ok());
  EXPECT_FALSE(fw.add_file("etc/a", {}).ok()) << "duplicate";
  EXPECT_FALSE(fw.add_file(std::string(56, 'n'), {}).ok()) << "name too long";
  auto dir = read_item(fw, FwCfg::kFileDir, 4 + 2 * 64);
  EXPECT_EQ(be32(dir, 0), 2u);
  EXPECT_EQ(be32(dir, 4), 3u);
  EXPECT_EQ((dir[8] << 8) | dir[9], 0x20);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[12])), "etc/a");
  EXPECT_EQ(be32(dir, 68), 2u);
  EXPECT_EQ((dir[72] << 8) | dir[73], 0x21);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[76])), "bootorder");
  EXPECT_EQ(read_item(fw, 0x20, 3), (std::vector<uint8_t>{1, 2, 3}));
}

}  // namespace
}  // namespace kvpc
