// virtio-blk (legacy transport) driven by a hostile guest: BAR0 register accesses, the queue
// placed anywhere by the input, descriptors, avail-ring entries, request headers and raw
// bytes written into guest RAM, PCI command changes, and process_queue() (the worker's body)
// run on the fuzzer's thread. Disk: a 64 KiB raw image in memory.
//
// Properties:
//   * one process_queue() completes at most a queue's worth of requests, and each completion
//     publishes the used index the device's count predicts (completions since the queue was
//     configured), whatever the guest scribbled over the used ring;
//   * process_queue() either drains the ring or leaves the device in NEEDS_RESET: a second
//     call right after completes nothing and changes nothing;
//   * the device's DMA never lands outside RAM: the ROM region (the firmware) is unchanged;
//   * the INTx line follows the device's interrupt state;
//   * a reset always recovers: after status <- 0 the device is idle, and a driver that sets
//     it up again from scratch gets a read request served correctly.
#include <algorithm>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "devices/virtio/virtio_blk.h"
#include "storage/raw_image.h"
#include "tests/fuzz/fuzz_input.h"

using namespace kvpc;
using namespace kvpc::fuzz;
using namespace kvpc::virtio_blk;

namespace {

constexpr uint64_t kRamBytes = 256 << 10;
constexpr uint64_t kRomBase = 0xF0000000;
constexpr uint64_t kRomBytes = 0x10000;
constexpr uint64_t kDiskBytes = 64 << 10;
constexpr size_t kMaxSteps = 512;

class LevelIrq final : public IrqLine {
 public:
  void set_level(bool asserted) override { level = asserted; }
  bool level = false;
};

struct Guest {
  GuestMemory memory;
  std::span<uint8_t> rom;
  LevelIrq irq;
  MemoryBackingFile* disk = nullptr;
  std::unique_ptr<VirtioBlk> device;
  uint16_t avail_idx = 0;       // what this fake driver last published
  uint16_t completions = 0;     // the device's used index, as the model predicts it

  uint32_t reg_read(uint32_t offset, size_t width) {
    uint8_t bytes[4] = {};
    device->bar_device(0)->read(offset, std::span<uint8_t>(bytes, width));
    return static_cast<uint32_t>(load_le(std::span<const uint8_t>(bytes, width)));
  }
  void reg_write(uint32_t offset, size_t width, uint32_t value) {
    uint8_t bytes[4];
    store_le(std::span<uint8_t>(bytes, width), value);
    device->bar_device(0)->write(offset, std::span<const uint8_t>(bytes, width));
    // What resets the device's used index (devices/virtio/split_queue.cc): a device reset,
    // and a PFN write to queue 0 (configure or unconfigure).
    const bool reset = offset == kRegStatus && width == 1 && (value & 0xFF) == 0;
    const bool new_queue = offset == kRegQueuePfn && width == 4 && reg_read(kRegQueueSelect, 2) == 0;
    if (reset || new_queue) {
      completions = 0;
      avail_idx = 0;
      pfn = new_queue ? value : 0;
    }
  }
  // The queue's layout at queue 0's PFN (tracked here: the PFN register reads 0 while the
  // guest has another queue selected).
  uint32_t pfn = 0;
  uint64_t base() const { return uint64_t{pfn} * virtio::kLegacyAlign; }
  uint64_t desc_addr(uint16_t i) const { return base() + 16ULL * (i % kQueueSize); }
  uint64_t avail_addr() const { return base() + 16ULL * kQueueSize; }
  uint64_t used_addr() const {
    uint64_t front = 16ULL * kQueueSize + 6 + 2ULL * kQueueSize;
    return base() + (front + 4095) / 4096 * 4096;
  }
  void publish(uint16_t head) {
    (void)memory.write_obj<uint16_t>(avail_addr() + 4 + 2 * (avail_idx % kQueueSize), head);
    ++avail_idx;
    (void)memory.write_obj<uint16_t>(avail_addr() + 2, avail_idx);
  }
  void put_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t raw[16];
    std::memcpy(raw, &addr, 8);
    std::memcpy(raw + 8, &len, 4);
    std::memcpy(raw + 12, &flags, 2);
    std::memcpy(raw + 14, &next, 2);
    (void)memory.write(desc_addr(index), raw);
  }
  void driver_init(uint32_t queue_pfn) {
    device->config().set_command(pci::kCommandIo | pci::kCommandBusMaster);
    reg_write(kRegStatus, 1, 0);
    reg_write(kRegStatus, 1, kStatusAcknowledge | kStatusDriver);
    reg_write(kRegGuestFeatures, 4, reg_read(kRegHostFeatures, 4));
    reg_write(kRegQueueSelect, 2, 0);
    reg_write(kRegQueuePfn, 4, queue_pfn);
    reg_write(kRegStatus, 1, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  }
};

// One process_queue() with the properties above checked.
void process_and_check(Guest& guest) {
  const uint64_t before = guest.device->counters().requests;
  guest.device->process_queue();
  const uint64_t done = guest.device->counters().requests - before;
  KVPC_FUZZ_CHECK(done <= kQueueSize);
  if (done > 0) {
    guest.completions = static_cast<uint16_t>(guest.completions + done);
    auto used = guest.memory.read_obj<uint16_t>(guest.used_addr() + 2);
    KVPC_FUZZ_CHECK(used && *used == guest.completions);
  }
  const uint8_t status = guest.device->status();
  const VirtioBlkCounters counters = guest.device->counters();
  guest.device->process_queue();
  KVPC_FUZZ_CHECK(guest.device->counters().requests == counters.requests);
  KVPC_FUZZ_CHECK(guest.device->counters().broken_chains == counters.broken_chains);
  KVPC_FUZZ_CHECK(guest.device->status() == status);
  KVPC_FUZZ_CHECK(guest.irq.level == guest.device->irq_asserted());
}

// Reset, then a fresh driver reads sector `sector` through a queue at page 1.
void check_reset_recovers(Guest& guest, uint8_t sector) {
  guest.reg_write(kRegStatus, 1, 0);
  KVPC_FUZZ_CHECK(guest.device->status() == 0);
  KVPC_FUZZ_CHECK(guest.reg_read(kRegQueuePfn, 4) == 0);
  KVPC_FUZZ_CHECK(guest.reg_read(kRegIsr, 1) == 0);
  KVPC_FUZZ_CHECK(!guest.irq.level);

  constexpr uint32_t kPfn = 1;
  constexpr uint64_t kHeader = 0x30000, kData = 0x31000, kStatusByte = 0x30010;
  std::vector<uint8_t> zeros(virtio::SplitQueue::legacy_bytes(kQueueSize));
  KVPC_FUZZ_CHECK(guest.memory.write(kPfn * virtio::kLegacyAlign, zeros));
  guest.driver_init(kPfn);
  KVPC_FUZZ_CHECK(guest.device->status() == (kStatusAcknowledge | kStatusDriver | kStatusDriverOk));
  struct {
    uint32_t type, reserved;
    uint64_t sector;
  } header{kRequestIn, 0, sector % (kDiskBytes / 512)};
  KVPC_FUZZ_CHECK(guest.memory.write_obj(kHeader, header));
  KVPC_FUZZ_CHECK(guest.memory.write_obj<uint8_t>(kStatusByte, 0xEE));
  guest.put_desc(0, kHeader, 16, virtio::kDescNext, 1);
  guest.put_desc(1, kData, 512, virtio::kDescNext | virtio::kDescWrite, 2);
  guest.put_desc(2, kStatusByte, 1, virtio::kDescWrite, 0);
  guest.publish(0);
  process_and_check(guest);
  KVPC_FUZZ_CHECK(guest.device->status() == (kStatusAcknowledge | kStatusDriver | kStatusDriverOk));
  KVPC_FUZZ_CHECK(*guest.memory.read_obj<uint16_t>(guest.used_addr() + 2) == 1);
  KVPC_FUZZ_CHECK(*guest.memory.read_obj<uint8_t>(kStatusByte) == kStatusOk);
  std::vector<uint8_t> got(512);
  KVPC_FUZZ_CHECK(guest.memory.read(kData, got));
  const auto& disk = guest.disk->bytes();
  KVPC_FUZZ_CHECK(std::equal(got.begin(), got.end(), disk.begin() + header.sector * 512));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Each input builds a new device, so its "first few broken chains" warnings would print for
  // nearly every input and cost more time than the device; errors still print.
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::err);
    return true;
  }();
  (void)quiet;
  FuzzInput in(data, size);
  Guest guest;
  KVPC_FUZZ_CHECK(guest.memory.add_region("ram", 0, kRamBytes, false).ok());
  auto rom = guest.memory.add_region("rom", kRomBase, kRomBytes, true);
  KVPC_FUZZ_CHECK(rom.ok());
  guest.rom = *rom;
  // The firmware's bytes: the input's first chunk, repeated (a ring the guest places in ROM
  // then reads whatever the firmware holds).
  const auto firmware = in.chunk();
  for (size_t i = 0; i < guest.rom.size(); ++i) {
    guest.rom[i] = firmware.empty() ? static_cast<uint8_t>(i * 37) : firmware[i % firmware.size()];
  }
  const std::vector<uint8_t> rom_before(guest.rom.begin(), guest.rom.end());

  std::vector<uint8_t> disk(kDiskBytes);
  for (size_t i = 0; i < disk.size(); ++i) disk[i] = static_cast<uint8_t>(i / 512 + i);
  const bool read_only = in.flag();
  auto file = std::make_unique<MemoryBackingFile>(std::move(disk), read_only);
  guest.disk = file.get();
  auto image = RawImage::open(std::move(file));
  KVPC_FUZZ_CHECK(image.ok());
  guest.device = std::make_unique<VirtioBlk>(guest.memory, guest.irq, std::move(image).value(), "fuzz");
  KVPC_FUZZ_CHECK(guest.device->init().ok());

  // A driver's set-up with the queue where the input says (some pages are past RAM's end).
  guest.driver_init(in.u8() % 80);

  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    switch (in.u8() % 10) {
      case 0: {  // BAR0 register write, any offset and width
        const uint32_t offset = in.u8() % kBar0Size;
        const size_t width = size_t{1} << (in.u8() % 3);
        guest.reg_write(offset, width, in.u32());
        break;
      }
      case 1: {  // BAR0 register read
        const uint32_t offset = in.u8() % kBar0Size;
        (void)guest.reg_read(offset, size_t{1} << (in.u8() % 3));
        break;
      }
      case 2: {  // a descriptor: mostly plausible addresses and lengths, sometimes anything
        const uint16_t index = in.u8();
        const uint8_t mode = in.u8();
        const uint64_t addr = (mode & 1) ? in.u64() : in.u32() % (kRamBytes + 0x1000);
        const uint32_t len = (mode & 2) ? in.u32() : in.u16() % 0x2000;
        const uint16_t flags = (mode & 4) ? in.u16() : in.u8() & 3;
        const uint16_t next = (mode & 8) ? in.u16() : in.u8();
        guest.put_desc(index, addr, len, flags, next);
        break;
      }
      case 3:  // publish a chain head (sometimes out of range)
        guest.publish(in.flag() ? in.u16() : in.u8());
        break;
      case 4: {  // the avail index, raw (jumps, rewinds)
        guest.avail_idx = in.u16();
        (void)guest.memory.write_obj<uint16_t>(guest.avail_addr() + 2, guest.avail_idx);
        break;
      }
      case 5: {  // raw bytes anywhere in RAM (including over the rings)
        const uint64_t gpa = in.u32() % kRamBytes;
        (void)guest.memory.write(gpa, in.chunk());
        break;
      }
      case 6: {  // a request header: a known type or anything, a sector near the disk's end
        const uint64_t gpa = in.u32() % kRamBytes;
        const uint8_t pick = in.u8();
        static constexpr uint32_t kTypes[] = {kRequestIn, kRequestOut, kRequestFlush, kRequestGetId};
        const uint32_t type = pick < 4 * 60 ? kTypes[pick % 4] : in.u32();
        const uint64_t sector = in.flag() ? in.u64() : in.u8();
        uint8_t header[16] = {};
        std::memcpy(header, &type, 4);
        std::memcpy(header + 8, &sector, 8);
        (void)guest.memory.write(gpa, header);
        break;
      }
      case 7:
        process_and_check(guest);
        break;
      case 8: {  // PCI command: bus mastering on or off
        guest.device->config().set_command(in.u16());
        break;
      }
      default:
        guest.driver_init(in.flag() ? in.u32() : in.u8() % 80);
        break;
    }
  }
  process_and_check(guest);
  KVPC_FUZZ_CHECK(std::equal(rom_before.begin(), rom_before.end(), guest.rom.begin()));
  check_reset_recovers(guest, in.u8());
  if (read_only) KVPC_FUZZ_CHECK(guest.device->counters().bytes_written == 0);
  return 0;
}
