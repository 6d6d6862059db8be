// VirtioBlk against a fake guest: guest memory the test fills like a driver would, a raw
// image in memory, a recording interrupt line. Good requests, then hostile chains.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "devices/virtio/virtio_blk.h"
#include "storage/raw_image.h"

namespace kvpc {
namespace {

using namespace virtio_blk;
using namespace std::chrono_literals;

class RecordingIrq final : public IrqLine {
 public:
  void set_level(bool asserted) override {
    level = asserted;
    ++changes;
  }
  std::atomic<bool> level{false};
  std::atomic<int> changes{0};
};

constexpr uint64_t kRamBytes = 4 << 20;
constexpr uint64_t kQueueBase = 0x10000;  // page aligned
constexpr uint64_t kDataArea = 0x100000;
constexpr uint64_t kDiskBytes = 1 << 20;

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

// Members are public so the hostile-chain table below can drive the fake driver.
class VirtioBlkTest : public ::testing::Test {
 public:
  void SetUp() override { build(false); }

  void build(bool read_only) {
    device_.reset();
    memory_ = GuestMemory();
    ASSERT_TRUE(memory_.add_region("ram", 0, kRamBytes, false).ok());
    ASSERT_TRUE(memory_.add_region("rom", 0xF0000000, 0x10000, true).ok());
    std::vector<uint8_t> disk(kDiskBytes);
    for (size_t i = 0; i < disk.size(); ++i) disk[i] = static_cast<uint8_t>(i / 512);
    auto file = std::make_unique<MemoryBackingFile>(std::move(disk), read_only);
    file_ = file.get();
    std::unique_ptr<BackingFile> backing = std::move(file);
    if (wrap_file_) backing = wrap_file_(std::move(backing));
    auto image = RawImage::open(std::move(backing));
    ASSERT_TRUE(image.ok());
    device_ = std::make_unique<VirtioBlk>(memory_, irq_, std::move(image).value(), "kvpc-test-serial");
    ASSERT_TRUE(device_->init().ok());
    avail_idx_ = 0;
    next_desc_ = 0;
  }

  // Register access as the guest does it.
  uint32_t reg_read(uint32_t offset, size_t width) {
    uint8_t bytes[4] = {};
    device_->bar_device(0)->read(offset, std::span<uint8_t>(bytes, width));
    return static_cast<uint32_t>(load_le(std::span<const uint8_t>(bytes, width)));
  }
  void reg_write(uint32_t offset, size_t width, uint32_t value) {
    uint8_t bytes[4];
    store_le(std::span<uint8_t>(bytes, width), value);
    device_->bar_device(0)->write(offset, std::span<const uint8_t>(bytes, width));
  }

  // What a driver does to bring the device up.
  void driver_init(bool bus_master = true) {
    device_->config().set_command(pci::kCommandIo | (bus_master ? pci::kCommandBusMaster : 0));
    reg_write(kRegStatus, 1, 0);
    reg_write(kRegStatus, 1, kStatusAcknowledge | kStatusDriver);
    reg_write(kRegGuestFeatures, 4, reg_read(kRegHostFeatures, 4));
    reg_write(kRegQueueSelect, 2, 0);
    ASSERT_EQ(reg_read(kRegQueueSize, 2), kQueueSize);
    reg_write(kRegQueuePfn, 4, kQueueBase / 4096);
    reg_write(kRegStatus, 1, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  }

  uint64_t desc_addr(uint16_t i) const { return kQueueBase + 16ULL * i; }
  uint64_t avail_addr() const { return kQueueBase + 16ULL * kQueueSize; }
  uint64_t used_addr() const {
    uint64_t front = 16ULL * kQueueSize + 6 + 2ULL * kQueueSize;
    return kQueueBase + (front + 4095) / 4096 * 4096;
  }

  void put_desc(uint16_t index, const Desc& desc) { ASSERT_TRUE(memory_.write_obj(desc_addr(index), desc)); }

  // Publishes chain `head` on the avail ring.
  void publish(uint16_t head) {
    ASSERT_TRUE(memory_.write_obj<uint16_t>(avail_addr() + 4 + 2 * (avail_idx_ % kQueueSize), head));
    ++avail_idx_;
    ASSERT_TRUE(memory_.write_obj<uint16_t>(avail_addr() + 2, avail_idx_));
  }

  // A standard three-descriptor request: header, data, status. Returns the head.
  uint16_t request(uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t data_len, bool data_device_writes) {
    const uint16_t head = next_desc_;
    next_desc_ = static_cast<uint16_t>(next_desc_ + 3);
    const uint64_t header_gpa = kDataArea - 0x1000 + head * 32;
    struct {
      uint32_t type, reserved;
      uint64_t sector;
    } header{type, 0, sector};
    EXPECT_TRUE(memory_.write_obj(header_gpa, header));
    status_gpa_ = header_gpa + 16;
    EXPECT_TRUE(memory_.write_obj<uint8_t>(status_gpa_, 0xEE));
    put_desc(head, {header_gpa, 16, kDescNextFlag, static_cast<uint16_t>(head + 1)});
    put_desc(head + 1, {data_gpa, data_len, static_cast<uint16_t>(kDescNextFlag | (data_device_writes ? kDescWriteFlag : 0)),
                        static_cast<uint16_t>(head + 2)});
    put_desc(head + 2, {status_gpa_, 1, kDescWriteFlag, 0});
    return head;
  }

  uint16_t used_idx() { return *memory_.read_obj<uint16_t>(used_addr() + 2); }
  std::pair<uint32_t, uint32_t> used_elem(uint16_t i) {
    uint64_t at = used_addr() + 4 + 8ULL * (i % kQueueSize);
    return {*memory_.read_obj<uint32_t>(at), *memory_.read_obj<uint32_t>(at + 4)};
  }
  uint8_t status_byte() { return *memory_.read_obj<uint8_t>(status_gpa_); }

  static constexpr uint16_t kDescNextFlag = 1;
  static constexpr uint16_t kDescWriteFlag = 2;

  GuestMemory memory_;
  RecordingIrq irq_;
  MemoryBackingFile* file_ = nullptr;
  // Set before build(): wraps the in-memory file (fault injection).
  std::function<std::unique_ptr<BackingFile>(std::unique_ptr<BackingFile>)> wrap_file_;
  std::unique_ptr<VirtioBlk> device_;
  uint16_t avail_idx_ = 0;
  uint16_t next_desc_ = 0;
  uint64_t status_gpa_ = 0;
};

TEST_F(VirtioBlkTest, PciIdentityIsTransitionalVirtioBlockWithOneIoBar) {
  auto& config = device_->config();
  uint8_t id[4];
  config.read(pci::kVendorId, id);
  EXPECT_EQ(load_le(id), 0x10011AF4u);
  uint8_t sub[4];
  config.read(pci::kSubsystemVendorId, sub);
  EXPECT_EQ(load_le(sub), 0x00021AF4u);
  EXPECT_EQ(config.bar_size(0), kBar0Size);
  uint8_t bar[4] = {0xFF, 0xFF, 0xFF, 0xFF};
  config.write(pci::kBar0, bar);
  config.read(pci::kBar0, bar);
  EXPECT_EQ(load_le(bar) & 1, 1u) << "BAR0 is an I/O BAR";
}

TEST_F(VirtioBlkTest, FeaturesAndConfigDescribeTheDisk) {
  const uint32_t features = reg_read(kRegHostFeatures, 4);
  EXPECT_TRUE(features & kFeatureFlush);
  EXPECT_TRUE(features & kFeatureSegMax);
  EXPECT_FALSE(features & kFeatureReadOnly);
  const uint64_t capacity = reg_read(kRegConfig, 4) | uint64_t{reg_read(kRegConfig + 4, 4)} << 32;
  EXPECT_EQ(capacity, kDiskBytes / 512);
  EXPECT_EQ(reg_read(kRegConfig + 12, 4), kQueueSize - 2u);  // seg_max
  build(true);
  EXPECT_TRUE(reg_read(kRegHostFeatures, 4) & kFeatureReadOnly);
}

TEST_F(VirtioBlkTest, WriteThenReadBackThroughTheQueue) {
  driver_init();
  std::vector<uint8_t> data(1024);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13);
  ASSERT_TRUE(memory_.write(kDataArea, data));
  publish(request(kRequestOut, 10, kDataArea, 1024, false));
  device_->process_queue();
  ASSERT_EQ(used_idx(), 1);
  EXPECT_EQ(used_elem(0), (std::pair<uint32_t, uint32_t>{0, 1}));  // OUT writes only the status byte
  EXPECT_EQ(status_byte(), kStatusOk);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), file_->bytes().begin() + 10 * 512)) << "bytes reached the file";
  EXPECT_TRUE(irq_.level);

  publish(request(kRequestIn, 10, kDataArea + 0x10000, 1024, true));
  device_->process_queue();
  ASSERT_EQ(used_idx(), 2);
  EXPECT_EQ(used_elem(1), (std::pair<uint32_t, uint32_t>{3, 1025}));
  EXPECT_EQ(status_byte(), kStatusOk);
  std::vector<uint8_t> back(1024);
  ASSERT_TRUE(memory_.read(kDataArea + 0x10000, back));
  EXPECT_EQ(back, data);
  EXPECT_EQ(device_->counters().bytes_written, 1024u);
  EXPECT_EQ(device_->counters().bytes_read, 1024u);

  // Reading ISR acknowledges: bit 0 set, then clear and the line low.
  EXPECT_EQ(reg_read(kRegIsr, 1), kIsrQueue);
  EXPECT_FALSE(irq_.level);
  EXPECT_EQ(reg_read(kRegIsr, 1), 0u);
}

TEST_F(VirtioBlkTest, FlushSyncsTheImageAndGetIdReturnsTheSerial) {
  driver_init();
  publish(request(kRequestFlush, 0, kDataArea, 0, false));
  // A flush has no data descriptor; a zero-length one is harmless.
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusOk);
  EXPECT_EQ(file_->syncs(), 1u);
  publish(request(kRequestGetId, 0, kDataArea, 20, true));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusOk);
  char id[21] = {};
  ASSERT_TRUE(memory_.read(kDataArea, std::span<uint8_t>(reinterpret_cast<uint8_t*>(id), 20)));
  EXPECT_STREQ(id, "kvpc-test-serial");
  EXPECT_EQ(used_elem(1).second, 21u);
}

// A BackingFile whose next sync fails once, as fdatasync does after a writeback error.
class SyncFailsOnce final : public BackingFile {
 public:
  explicit SyncFailsOnce(std::unique_ptr<BackingFile> inner) : inner_(std::move(inner)) {}
  std::string_view describe() const override { return inner_->describe(); }
  uint64_t size() const override { return inner_->size(); }
  bool writable() const override { return inner_->writable(); }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override { return inner_->read_at(offset, out); }
  Status write_at(uint64_t offset, std::span<const uint8_t> in) override { return inner_->write_at(offset, in); }
  Status sync() override {
    if (!failed_) {
      failed_ = true;
      return make_error("(memory): fdatasync: Input/output error");
    }
    return inner_->sync();
  }

 private:
  std::unique_ptr<BackingFile> inner_;
  bool failed_ = false;
};

TEST_F(VirtioBlkTest, AFailedFlushIsNeverFollowedByAFlushThatClaimsSuccess) {
  wrap_file_ = [](std::unique_ptr<BackingFile> inner) { return std::make_unique<SyncFailsOnce>(std::move(inner)); };
  build(false);
  driver_init();
  publish(request(kRequestOut, 10, kDataArea, 512, false));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusOk);
  publish(request(kRequestFlush, 0, kDataArea, 0, false));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusIoError) << "the host's sync failed";
  // The host would now report success (the error was reported once), but the write above
  // may be lost: the device keeps failing FLUSH, also after a device reset.
  publish(request(kRequestFlush, 0, kDataArea, 0, false));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusIoError);
  reg_write(kRegStatus, 1, 0);
  avail_idx_ = 0;
  next_desc_ = 0;
  driver_init();
  publish(request(kRequestFlush, 0, kDataArea, 0, false));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusIoError);
  // Reads and writes still work.
  publish(request(kRequestIn, 10, kDataArea, 512, true));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusOk);
}

TEST_F(VirtioBlkTest, MalformedButFollowableRequestsCompleteWithErrors) {
  driver_init();
  publish(request(99, 0, kDataArea, 512, true));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusUnsupported);
  publish(request(kRequestIn, kDiskBytes / 512, kDataArea, 512, true));  // one past the end
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusIoError);
  publish(request(kRequestIn, 0, kDataArea, 100, true));  // not whole sectors
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusIoError);
  publish(request(kRequestIn, ~0ULL, kDataArea, 512, true));  // sector * 512 would overflow
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusIoError);
  EXPECT_EQ(used_idx(), 4);
  EXPECT_EQ(device_->status() & kStatusNeedsReset, 0) << "errors in requests do not break the device";
}

TEST_F(VirtioBlkTest, WriteToAReadOnlyDiskFailsAndLeavesTheFile) {
  build(true);
  driver_init();
  auto before = file_->bytes();
  publish(request(kRequestOut, 0, kDataArea, 512, false));
  device_->process_queue();
  EXPECT_EQ(status_byte(), kStatusIoError);
  EXPECT_EQ(file_->bytes(), before);
}

TEST_F(VirtioBlkTest, HeaderAndDataSplitAcrossDescriptorsMidSector) {
  driver_init();
  // Header in two pieces (10 + 6 bytes), data in three pieces (100 + 700 + 224 bytes), status.
  struct {
    uint32_t type, reserved;
    uint64_t sector;
  } header{kRequestIn, 0, 3};
  ASSERT_TRUE(memory_.write_obj(kDataArea, header));
  ASSERT_TRUE(memory_.write_obj<uint8_t>(kDataArea + 0x800, 0xEE));
  put_desc(0, {kDataArea, 10, kDescNextFlag, 1});
  put_desc(1, {kDataArea + 10, 6, kDescNextFlag, 2});
  put_desc(2, {kDataArea + 0x1000, 100, kDescNextFlag | kDescWriteFlag, 3});
  put_desc(3, {kDataArea + 0x2000, 700, kDescNextFlag | kDescWriteFlag, 4});
  put_desc(4, {kDataArea + 0x3000, 225, kDescWriteFlag, 0});  // last byte is the status
  publish(0);
  device_->process_queue();
  ASSERT_EQ(used_idx(), 1);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kDataArea + 0x3000 + 224), kStatusOk);
  // Disk byte i holds i / 512; the request read sectors 3 and 4.
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kDataArea + 0x1000), 3);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kDataArea + 0x2000 + 411), 3);  // byte 511 of the request
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kDataArea + 0x2000 + 412), 4);  // byte 512
  EXPECT_EQ(used_elem(0).second, 1025u);
}

TEST_F(VirtioBlkTest, NoInterruptFlagSuppressesTheInterrupt) {
  driver_init();
  ASSERT_TRUE(memory_.write_obj<uint16_t>(avail_addr(), 1));
  publish(request(kRequestIn, 0, kDataArea, 512, true));
  device_->process_queue();
  EXPECT_EQ(used_idx(), 1);
  EXPECT_FALSE(irq_.level);
}

TEST_F(VirtioBlkTest, WithoutBusMasteringTheDeviceDoesNotTouchMemory) {
  driver_init(/*bus_master=*/false);
  publish(request(kRequestIn, 0, kDataArea, 512, true));
  device_->process_queue();
  EXPECT_EQ(used_idx(), 0);
  device_->config().set_command(pci::kCommandIo | pci::kCommandBusMaster);
  device_->process_queue();
  EXPECT_EQ(used_idx(), 1);
}

// --- hostile chains ------------------------------------------------------------------------------

struct HostileCase {
  const char* name;
  void (*build)(VirtioBlkTest&);
};

const HostileCase kHostileCases[] = {
    {"Loop",
     [](VirtioBlkTest& t) {
       auto& h = t;
       h.put_desc(0, {kDataArea, 16, 1, 1});
       h.put_desc(1, {kDataArea, 16, 1, 0});  // back to 0
       h.publish(0);
     }},
    {"HeadOutOfRange", [](VirtioBlkTest& t) { t.publish(kQueueSize + 5); }},
    {"NextOutOfRange",
     [](VirtioBlkTest& t) {
       auto& h = t;
       h.put_desc(0, {kDataArea, 16, 1, 4000});
       h.publish(0);
     }},
    {"BufferOutsideRam",
     [](VirtioBlkTest& t) {
       auto& h = t;
       h.publish(h.request(kRequestIn, 0, kRamBytes - 256, 512, true));
     }},
    {"BufferLengthWraps",
     [](VirtioBlkTest& t) {
       auto& h = t;
       h.put_desc(0, {~0ULL - 8, 0xFFFFFFFF, 0, 0});
       h.publish(0);
     }},
    {"DmaIntoRom",
     [](VirtioBlkTest& t) {
       auto& h = t;
       h.publish(h.request(kRequestIn, 0, 0xF0000000, 512, true));
     }},
    {"Indirect",
     [](VirtioBlkTest& t) {
       auto& h = t;
       h.put_desc(0, {kDataArea, 64, 4, 0});
       h.publish(0);
     }},
    {"ReadableAfterWritable",
     [](VirtioBlkTest& t) {
       auto& h = t;
       h.put_desc(0, {kDataArea, 16, 1 | 2, 1});
       h.put_desc(1, {kDataArea + 512, 512, 0, 0});
       h.publish(0);
     }},
    {"AvailIndexJump",
     [](VirtioBlkTest& t) {
       auto& h = t;
       ASSERT_TRUE(h.memory_.write_obj<uint16_t>(h.avail_addr() + 2, kQueueSize + 1));
     }},
};

class HostileChain : public VirtioBlkTest, public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileChain, PutsTheDeviceInNeedsResetWithoutCompletingAnything) {
  driver_init();
  GetParam().build(*this);
  device_->process_queue();
  EXPECT_EQ(used_idx(), 0);
  EXPECT_TRUE(device_->status() & kStatusNeedsReset);
  EXPECT_EQ(reg_read(kRegIsr, 1), kIsrConfig);
  EXPECT_EQ(device_->counters().broken_chains, 1u);
  // Nothing more is taken until the driver resets; after a reset the device works again.
  device_->process_queue();
  EXPECT_EQ(device_->counters().broken_chains, 1u);
  std::vector<uint8_t> zeros(16384, 0);
  ASSERT_TRUE(memory_.write(kQueueBase, zeros));
  avail_idx_ = 0;
  next_desc_ = 0;
  driver_init();
  EXPECT_EQ(device_->status() & kStatusNeedsReset, 0);
  publish(request(kRequestIn, 1, kDataArea, 512, true));
  device_->process_queue();
  EXPECT_EQ(used_idx(), 1);
  EXPECT_EQ(status_byte(), kStatusOk);
}

INSTANTIATE_TEST_SUITE_P(Table, HostileChain, ::testing::ValuesIn(kHostileCases),
                         [](const ::testing::TestParamInfo<HostileCase>& param_info) { return param_info.param.name; });

TEST_F(VirtioBlkTest, QueueOutsideGuestMemoryNeedsReset) {
  device_->config().set_command(pci::kCommandIo | pci::kCommandBusMaster);
  reg_write(kRegStatus, 1, kStatusAcknowledge | kStatusDriver);
  reg_write(kRegQueuePfn, 4, (kRamBytes - 4096) / 4096);  // the ring would run past RAM
  EXPECT_TRUE(device_->status() & kStatusNeedsReset);
}

// Found by the virtio_blk fuzz target: a queue in ROM was accepted, and the device's used-ring
// writes then changed the firmware image. The ROM here holds a valid avail entry and chain.
TEST_F(VirtioBlkTest, QueueInRomIsRefusedAndTheRomStaysUnchanged) {
  auto rom = memory_.add_region("rom2", 0xE0000000, 0x10000, true);
  ASSERT_TRUE(rom.ok());
  const uint8_t pattern[16] = {0x00, 0x00, 0x02, 0x00, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0};  // desc {0x20000, 16}; avail idx 2
  for (size_t i = 0; i < rom->size(); ++i) (*rom)[i] = pattern[i % 16];
  const std::vector<uint8_t> before(rom->begin(), rom->end());
  device_->config().set_command(pci::kCommandIo | pci::kCommandBusMaster);
  reg_write(kRegStatus, 1, kStatusAcknowledge | kStatusDriver);
  reg_write(kRegQueuePfn, 4, 0xE0000000 / 4096);
  reg_write(kRegStatus, 1, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_TRUE(device_->status() & kStatusNeedsReset);
  device_->process_queue();
  EXPECT_EQ(device_->counters().requests, 0u);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), rom->begin())) << "the firmware image changed";
}

TEST_F(VirtioBlkTest, WorkerThreadServesKicksFromTheNotifyRegister) {
  driver_init();
  ASSERT_TRUE(device_->start().ok());
  publish(request(kRequestIn, 7, kDataArea, 512, true));
  reg_write(kRegQueueNotify, 2, 0);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (used_idx() != 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(used_idx(), 1);
  EXPECT_EQ(*memory_.read_obj<uint8_t>(kDataArea), 7);
  // A reset while the worker runs waits for it and leaves the device idle.
  reg_write(kRegStatus, 1, 0);
  EXPECT_EQ(device_->status(), 0);
  device_->stop();
  device_->stop();  // idempotent
}

}  // namespace
}  // namespace kvpc
