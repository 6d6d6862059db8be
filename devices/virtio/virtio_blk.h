// VirtioBlk: a virtio block device on PCI, legacy (transitional) transport: vendor 1af4,
// device 1001, subsystem 2, class 01:80, one I/O BAR0 of 64 ports, INTA#.
//
// Why legacy: one I/O BAR and no capability list, so it fits kvpc's fixed BAR placement in
// direct boot, and every driver kvpc targets drives it — SeaBIOS 1.16 (virtio-blk.c probes
// 1af4:1001 on BAR0 I/O), Linux (virtio_pci_legacy) and the test guest. The modern (1.0)
// transport needs memory BARs and capability parsing for no benefit at this size.
//
// BAR0 (legacy virtio header, no MSI-X):
//   0x00 u32 host features (RO)   0x04 u32 guest features     0x08 u32 queue PFN (4 KiB pages)
//   0x0C u16 queue size (RO)      0x0E u16 queue select       0x10 u16 queue notify
//   0x12 u8  device status        0x13 u8  ISR (read clears)  0x14 virtio_blk_config (RO)
// One request queue (index 0) of kQueueSize entries. Features: SEG_MAX, FLUSH, RO (when the
// image is read-only). Requests: IN, OUT, FLUSH, GET_ID; anything else gets UNSUPP.
//
// Threads and the concurrency contract:
//   * vCPU threads call the BAR0 registers (read()/write()) and config(). Register state
//     lives under regs_mutex_, held for a few instructions.
//   * one worker thread per disk (start()/stop()) waits on the doorbell eventfd and does
//     every request: walks the chain, does the disk I/O (pread/pwrite straight into guest
//     memory), fills the used ring, raises INTA#. It holds queue_mutex_ for one request at
//     a time.
//   * the doorbell: the board registers doorbell_eventfd() as an ioeventfd on BAR0 + 0x10,
//     so a guest's kick costs no exit to userspace; a notify write that does reach write()
//     (no ioeventfd, e.g. an accelerator without them) signals the same eventfd.
//   * a device reset (status <- 0) or a queue PFN write takes queue_mutex_, so it waits for
//     the one request in flight (as QEMU drains on reset): after the guest's OUT returns, no
//     write of the old queue can land in guest memory. That wait is this device's only
//     blocking register access; it is bounded by one disk request.
//   Lock order: queue_mutex_ before regs_mutex_.
//
// Hostile guests: a chain that cannot be followed (index out of range, loop, buffer outside
// RAM or in ROM, indirect, readable after writable, impossible avail index) puts the device
// in NEEDS_RESET (status bit 0x40, config-change interrupt) and it takes no more requests
// until reset. A followable but malformed request (short header, no status byte, data not
// in whole sectors, beyond the disk, write to a read-only disk) completes with IOERR.
// Bus mastering (PCI command bit 2) must be on for the device to touch guest memory.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "devices/pci_config_space.h"
#include "devices/pci_device.h"
#include "devices/virtio/split_queue.h"
#include "storage/block_image.h"
#include "vmm/guest_memory.h"
#include "vmm/io_device.h"
#include "vmm/irq_line.h"
#include "vmm/result.h"

namespace kvpc {

namespace virtio_blk {
inline constexpr uint16_t kVendorId = 0x1AF4;
inline constexpr uint16_t kDeviceId = 0x1001;  // transitional virtio-blk
inline constexpr uint16_t kSubsystemId = 2;    // virtio device type: block
inline constexpr uint32_t kBar0Size = 64;
inline constexpr uint16_t kQueueSize = 256;
// Legacy header offsets.
inline constexpr uint32_t kRegHostFeatures = 0x00;
inline constexpr uint32_t kRegGuestFeatures = 0x04;
inline constexpr uint32_t kRegQueuePfn = 0x08;
inline constexpr uint32_t kRegQueueSize = 0x0C;
inline constexpr uint32_t kRegQueueSelect = 0x0E;
inline constexpr uint32_t kRegQueueNotify = 0x10;
inline constexpr uint32_t kRegStatus = 0x12;
inline constexpr uint32_t kRegIsr = 0x13;
inline constexpr uint32_t kRegConfig = 0x14;
// Feature bits.
inline constexpr uint32_t kFeatureSegMax = 1u << 2;
inline constexpr uint32_t kFeatureReadOnly = 1u << 5;
inline constexpr uint32_t kFeatureFlush = 1u << 9;
// Device status bits.
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 0x40;
inline constexpr uint8_t kStatusFailed = 0x80;
// ISR bits.
inline constexpr uint8_t kIsrQueue = 1;
inline constexpr uint8_t kIsrConfig = 2;
// Requests.
inline constexpr uint32_t kRequestIn = 0;
inline constexpr uint32_t kRequestOut = 1;
inline constexpr uint32_t kRequestFlush = 4;
inline constexpr uint32_t kRequestGetId = 8;
inline constexpr uint8_t kStatusOk = 0;
inline constexpr uint8_t kStatusIoError = 1;
inline constexpr uint8_t kStatusUnsupported = 2;
inline constexpr uint32_t kIdBytes = 20;
inline constexpr uint32_t kHeaderBytes = 16;
// Largest request data kvpc accepts (whole request, all segments): larger gets IOERR.
inline constexpr uint64_t kMaxRequestBytes = 32ULL << 20;
}  // namespace virtio_blk

struct VirtioBlkCounters {
  uint64_t requests = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t flushes = 0;
  uint64_t io_errors = 0;       // requests completed with IOERR
  uint64_t broken_chains = 0;   // times the device went to NEEDS_RESET
  uint64_t interrupts = 0;
};

class VirtioBlk final : public PciDevice {
 public:
  // `serial` is what GET_ID returns (at most 20 bytes are used).
  VirtioBlk(const GuestMemory& memory, IrqLine& irq, std::unique_ptr<BlockImage> image, std::string serial);
  ~VirtioBlk() override;
  VirtioBlk(const VirtioBlk&) = delete;
  VirtioBlk& operator=(const VirtioBlk&) = delete;

  // Creates the eventfds. Set-up only.
  Status init();
  // Starts / stops the worker thread. stop() is idempotent and waits for the request in flight.
  Status start();
  void stop();

  std::string_view pci_name() const override { return "virtio-blk"; }
  PciConfigSpace& config() override { return config_; }
  IoDevice* bar_device(int index) override { return index == 0 ? &registers_ : nullptr; }

  int doorbell_eventfd() const { return doorbell_fd_; }
  static constexpr uint32_t doorbell_offset() { return virtio_blk::kRegQueueNotify; }
  static constexpr uint32_t doorbell_length() { return 2; }

  // Processes every available request now, on the calling thread (the worker's body; unit
  // tests call it directly instead of start()).
  void process_queue();

  VirtioBlkCounters counters() const;
  uint8_t status() const;
  bool irq_asserted() const;
  const BlockImage& image() const { return *image_; }

 private:
  class Registers final : public IoDevice {
   public:
    explicit Registers(VirtioBlk& device) : device_(device) {}
    std::string_view name() const override { return "virtio-blk"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    VirtioBlk& device_;
  };

  uint8_t register_byte_locked(uint32_t offset) const;
  void write_register(uint32_t offset, uint32_t width, uint32_t value);
  void reset_locked();  // both mutexes held
  void worker_main();
  // One request (queue_mutex_ held). Returns bytes written into the chain.
  uint32_t handle_request(const std::vector<virtio::Segment>& chain);
  uint8_t do_transfer(uint32_t type, uint64_t sector, std::span<const virtio::Segment> data, uint32_t* written);
  void raise_locked(uint8_t isr_bits);
  void signal(int fd);

  const GuestMemory& memory_;
  IrqLine& irq_;
  std::unique_ptr<BlockImage> image_;
  std::string serial_;
  PciConfigSpace config_;
  Registers registers_;
  std::array<uint8_t, virtio_blk::kBar0Size - virtio_blk::kRegConfig> blk_config_{};
  uint32_t host_features_ = 0;
  int doorbell_fd_ = -1;
  int stop_fd_ = -1;
  std::thread worker_;

  std::mutex queue_mutex_;  // held by the worker for one request; by reset and PFN writes
  virtio::SplitQueue queue_;
  std::vector<virtio::Segment> chain_;  // reused per request
  std::vector<uint8_t> bounce_;         // for data segments that are not whole sectors
  // The first failed FLUSH's error, kept for the image's life (not cleared by a device
  // reset): Linux reports a writeback error to fdatasync once, so a retried FLUSH could
  // succeed although acknowledged writes never reached the disk. Every later FLUSH fails.
  std::string flush_failure_;

  mutable std::mutex regs_mutex_;  // guards the register state below
  uint32_t guest_features_ = 0;
  uint32_t queue_pfn_ = 0;
  uint16_t queue_select_ = 0;
  uint8_t status_ = 0;
  uint8_t isr_ = 0;
  bool line_ = false;
  VirtioBlkCounters counters_;
};

}  // namespace kvpc
