#include "devices/virtio/virtio_blk.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vmm/thread_sandbox.h"

namespace kvpc {

using namespace virtio_blk;

namespace {

PciIdentity identity() {
  PciIdentity id;
  id.vendor_id = kVendorId;
  id.device_id = kDeviceId;
  id.class_code = 0x010000;  // mass storage, "SCSI": what virtio-blk has always reported
  id.subsystem_vendor_id = kVendorId;
  id.subsystem_id = kSubsystemId;
  id.interrupt_pin = 1;
  return id;
}

// Guest-triggered warnings are logged for the first few occurrences only.
constexpr uint64_t kLoggedErrors = 8;

}  // namespace

VirtioBlk::VirtioBlk(const GuestMemory& memory, IrqLine& irq, std::unique_ptr<BlockImage> image, std::string serial)
    : memory_(memory), irq_(irq), image_(std::move(image)), serial_(std::move(serial)), config_(identity()), registers_(*this) {
  config_.define_bar(0, PciBarKind::kIo, kBar0Size);
  host_features_ = kFeatureSegMax | kFeatureFlush | (image_->read_only() ? kFeatureReadOnly : 0);
  const uint64_t capacity = image_->size_bytes() / BlockImage::kSectorSize;
  store_le(std::span<uint8_t>(blk_config_).subspan(0, 8), capacity);      // capacity in 512-byte sectors
  store_le(std::span<uint8_t>(blk_config_).subspan(12, 4), kQueueSize - 2);  // seg_max: header + status take 2
  chain_.reserve(kQueueSize);
}

VirtioBlk::~VirtioBlk() {
  stop();
  if (doorbell_fd_ >= 0) ::close(doorbell_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Status VirtioBlk::init() {
  doorbell_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (doorbell_fd_ < 0 || stop_fd_ < 0) return make_error(fmt::format("virtio-blk: eventfd: {}", std::strerror(errno)));
  return ok_status();
}

Status VirtioBlk::start() {
  if (worker_.joinable()) return ok_status();
  if (doorbell_fd_ < 0) return make_error("virtio-blk: start() before init()");
  worker_ = std::thread([this] {
    // The seccomp filter (vmm/thread_sandbox.h) before the first request from the guest.
    if (auto sandboxed = enter_thread_sandbox(ThreadRole::kDiskWorker, "virtio-blk"); !sandboxed) {
      spdlog::error("{}", sandboxed.error().message);
      std::_Exit(2);  // never serve the guest unfiltered when the filter was asked for
    }
    worker_main();
  });
  return ok_status();
}

void VirtioBlk::stop() {
  if (!worker_.joinable()) return;
  signal(stop_fd_);
  worker_.join();
}

void VirtioBlk::signal(int fd) {
  uint64_t one = 1;
  // A full eventfd counter (never in practice) still leaves it readable: the wake-up is not lost.
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

void VirtioBlk::worker_main() {
  pollfd fds[2] = {{doorbell_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("virtio-blk: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = ::read(doorbell_fd_, &count, sizeof count);
      process_queue();
    }
  }
}

// --- Registers (vCPU threads) ----------------------------------------------------------------

uint8_t VirtioBlk::register_byte_locked(uint32_t offset) const {
  auto byte_of = [offset](uint32_t base, uint64_t value) { return static_cast<uint8_t>(value >> (8 * (offset - base))); };
  if (offset < kRegGuestFeatures) return byte_of(kRegHostFeatures, host_features_);
  if (offset < kRegQueuePfn) return byte_of(kRegGuestFeatures, guest_features_);
  if (offset < kRegQueueSize) return byte_of(kRegQueuePfn, queue_select_ == 0 ? queue_pfn_ : 0);
  if (offset < kRegQueueSelect) return byte_of(kRegQueueSize, queue_select_ == 0 ? kQueueSize : 0);
  if (offset < kRegQueueNotify) return byte_of(kRegQueueSelect, queue_select_);
  if (offset < kRegStatus) return 0;  // notify reads as 0
  if (offset == kRegStatus) return status_;
  if (offset == kRegIsr) return isr_;
  if (offset < kBar0Size) return blk_config_[offset - kRegConfig];
  return 0xFF;
}

void VirtioBlk::Registers::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(device_.regs_mutex_);
  bool reads_isr = false;
  for (size_t i = 0; i < data.size(); ++i) {
    uint32_t at = static_cast<uint32_t>(offset + i);
    data[i] = device_.register_byte_locked(at);
    reads_isr |= at == kRegIsr;
  }
  if (reads_isr) {  // reading ISR acknowledges the interrupt
    device_.isr_ = 0;
    if (device_.line_) {
      device_.line_ = false;
      device_.config_.set_interrupt_status(false);
      device_.irq_.set_level(false);
    }
  }
}

void VirtioBlk::Registers::write(uint64_t offset, std::span<const uint8_t> data) {
  device_.write_register(static_cast<uint32_t>(offset), static_cast<uint32_t>(data.size()),
                         static_cast<uint32_t>(load_le(data)));
}

void VirtioBlk::write_register(uint32_t offset, uint32_t width, uint32_t value) {
  // Only natural-width accesses to writable registers do anything; the rest is dropped.
  if (offset == kRegQueueNotify && width == 2) {
    signal(doorbell_fd_);
    return;
  }
  if (offset == kRegQueuePfn && width == 4) {
    std::lock_guard queue_lock(queue_mutex_);  // waits for the request in flight
    std::lock_guard lock(regs_mutex_);
    if (queue_select_ != 0) return;
    queue_pfn_ = value;
    if (value == 0) {
      queue_.reset();
    } else if (!queue_.configure(memory_, uint64_t{value} * virtio::kLegacyAlign, kQueueSize)) {
      if (counters_.broken_chains++ < kLoggedErrors) {
        spdlog::warn("virtio-blk: queue PFN {:#x} puts the ring outside guest RAM; device needs reset", value);
      }
      status_ |= kStatusNeedsReset;
      raise_locked(kIsrConfig);
    }
    return;
  }
  if (offset == kRegStatus && width == 1) {
    if (value == 0) {
      std::lock_guard queue_lock(queue_mutex_);
      std::lock_guard lock(regs_mutex_);
      reset_locked();
      return;
    }
    std::lock_guard lock(regs_mutex_);
    const bool driver_ok_now = (value & kStatusDriverOk) && !(status_ & kStatusDriverOk);
    status_ = static_cast<uint8_t>(value) | (status_ & kStatusNeedsReset);
    // Requests queued before DRIVER_OK wait for it; look at the ring once it is set.
    if (driver_ok_now) signal(doorbell_fd_);
    return;
  }
  std::lock_guard lock(regs_mutex_);
  if (offset == kRegGuestFeatures && width == 4) guest_features_ = value & host_features_;
  else if (offset == kRegQueueSelect && width == 2) queue_select_ = static_cast<uint16_t>(value);
}

void VirtioBlk::reset_locked() {
  queue_.reset();
  guest_features_ = 0;
  queue_pfn_ = 0;
  queue_select_ = 0;
  status_ = 0;
  isr_ = 0;
  if (line_) {
    line_ = false;
    config_.set_interrupt_status(false);
    irq_.set_level(false);
  }
}

void VirtioBlk::raise_locked(uint8_t isr_bits) {
  isr_ |= isr_bits;
  ++counters_.interrupts;
  if (!line_) {
    line_ = true;
    config_.set_interrupt_status(true);
    irq_.set_level(true);
  }
}

VirtioBlkCounters VirtioBlk::counters() const {
  std::lock_guard lock(regs_mutex_);
  return counters_;
}

uint8_t VirtioBlk::status() const {
  std::lock_guard lock(regs_mutex_);
  return status_;
}

bool VirtioBlk::irq_asserted() const {
  std::lock_guard lock(regs_mutex_);
  return line_;
}

// --- Requests (worker thread) ------------------------------------------------------------------

void VirtioBlk::process_queue() {
  for (;;) {
    std::lock_guard queue_lock(queue_mutex_);
    {
      std::lock_guard lock(regs_mutex_);
      if (!(status_ & kStatusDriverOk) || (status_ & kStatusNeedsReset) || !queue_.ready() ||
          !(config_.command() & pci::kCommandBusMaster)) {
        return;
      }
    }
    virtio::ChainError error = virtio::ChainError::kNone;
    auto head = queue_.pop_available(&error);
    if (head && error == virtio::ChainError::kNone) error = queue_.read_chain(*head, chain_);
    if (error != virtio::ChainError::kNone) {
      std::lock_guard lock(regs_mutex_);
      if (counters_.broken_chains++ < kLoggedErrors) {
        spdlog::warn("virtio-blk: {}; the device needs a reset", virtio::chain_error_name(error));
      }
      status_ |= kStatusNeedsReset;
      raise_locked(kIsrConfig);
      return;
    }
    if (!head) return;
    const uint32_t written = handle_request(chain_);
    queue_.push_used(*head, written);
    std::lock_guard lock(regs_mutex_);
    if (!queue_.interrupts_suppressed()) raise_locked(kIsrQueue);
  }
}

uint32_t VirtioBlk::handle_request(const std::vector<virtio::Segment>& chain) {
  // The chain is readable segments then writable ones (read_chain enforced the order).
  size_t first_writable = 0;
  while (first_writable < chain.size() && !chain[first_writable].device_writes) ++first_writable;

  // Header: the first 16 readable bytes, wherever the driver split them.
  uint8_t header[kHeaderBytes];
  size_t have = 0;
  std::vector<virtio::Segment> data;  // small: at most the chain's length
  data.reserve(chain.size());
  for (size_t i = 0; i < first_writable; ++i) {
    auto bytes = chain[i].bytes;
    size_t take = std::min(bytes.size(), sizeof header - have);
    std::memcpy(header + have, bytes.data(), take);
    have += take;
    if (bytes.size() > take) data.push_back({bytes.subspan(take), false});
  }
  // Status: the last byte of the writable part.
  uint8_t* status_byte = nullptr;
  size_t writable_end = chain.size();
  while (writable_end > first_writable && chain[writable_end - 1].bytes.empty()) --writable_end;
  if (writable_end > first_writable) {
    auto last = chain[writable_end - 1].bytes;
    status_byte = &last[last.size() - 1];
    for (size_t i = first_writable; i < writable_end; ++i) {
      auto bytes = chain[i].bytes;
      if (i == writable_end - 1) bytes = bytes.first(bytes.size() - 1);
      if (!bytes.empty()) data.push_back({bytes, true});
    }
  }

  uint8_t result = kStatusIoError;
  uint32_t written = 0;
  if (status_byte != nullptr && have == kHeaderBytes) {
    uint32_t type;
    uint64_t sector;
    std::memcpy(&type, header, 4);
    std::memcpy(&sector, header + 8, 8);
    result = do_transfer(type, sector, data, &written);
  }
  std::lock_guard lock(regs_mutex_);
  ++counters_.requests;
  if (result == kStatusIoError) ++counters_.io_errors;
  if (status_byte == nullptr) return 0;  // nowhere to say so: the driver sees 0 bytes written
  *status_byte = result;
  return written + 1;
}

uint8_t VirtioBlk::do_transfer(uint32_t type, uint64_t sector, std::span<const virtio::Segment> data,
                               uint32_t* written) {
  const bool to_guest = type == kRequestIn || type == kRequestGetId;
  uint64_t total = 0;
  bool whole_sectors = true;
  for (const auto& segment : data) {
    if (segment.device_writes != to_guest) continue;
    total += segment.bytes.size();
    whole_sectors &= segment.bytes.size() % BlockImage::kSectorSize == 0;
  }
  auto fail = [this](const std::string& what) {
    bool log = false;
    {
      std::lock_guard lock(regs_mutex_);
      log = counters_.io_errors < kLoggedErrors;
    }
    if (log) spdlog::warn("virtio-blk {}: {}", serial_, what);
    return kStatusIoError;
  };

  switch (type) {
    case kRequestIn:
    case kRequestOut: {
      const bool reading = type == kRequestIn;
      if (!reading && image_->read_only()) return fail("write to a read-only disk");
      if (total % BlockImage::kSectorSize != 0 || total > kMaxRequestBytes) {
        return fail(fmt::format("request of {} bytes is not whole sectors or exceeds the limit", total));
      }
      if (sector > image_->size_bytes() / BlockImage::kSectorSize) return fail(fmt::format("sector {} is beyond the disk", sector));
      uint64_t offset = sector * BlockImage::kSectorSize;
      if (!whole_sectors) {
        // Segments split mid-sector: go through one bounce buffer.
        bounce_.resize(total);
        size_t at = 0;
        if (!reading) {
          for (const auto& s : data) {
            if (s.device_writes) continue;
            std::memcpy(bounce_.data() + at, s.bytes.data(), s.bytes.size());
            at += s.bytes.size();
          }
          if (auto status = image_->write(offset, bounce_); !status) return fail(status.error().message);
        } else {
          if (auto status = image_->read(offset, bounce_); !status) return fail(status.error().message);
          for (const auto& s : data) {
            if (!s.device_writes) continue;
            std::memcpy(s.bytes.data(), bounce_.data() + at, s.bytes.size());
            at += s.bytes.size();
          }
        }
      } else {
        for (const auto& s : data) {
          if (s.device_writes != reading) continue;
          auto status = reading ? image_->read(offset, s.bytes) : image_->write(offset, s.bytes);
          if (!status) return fail(status.error().message);
          offset += s.bytes.size();
        }
      }
      std::lock_guard lock(regs_mutex_);
      (reading ? counters_.bytes_read : counters_.bytes_written) += total;
      if (reading) *written = static_cast<uint32_t>(total);
      return kStatusOk;
    }
    case kRequestFlush: {
      if (!flush_failure_.empty()) {
        return fail(fmt::format("an earlier FLUSH failed ({}); writes acknowledged before it may be lost, so no "
                                "later FLUSH reports success",
                                flush_failure_));
      }
      if (auto status = image_->flush(); !status) {
        flush_failure_ = status.error().message;
        return fail(status.error().message);
      }
      std::lock_guard lock(regs_mutex_);
      ++counters_.flushes;
      return kStatusOk;
    }
    case kRequestGetId: {
      uint8_t id[kIdBytes] = {};
      std::memcpy(id, serial_.data(), std::min<size_t>(serial_.size(), kIdBytes));
      size_t at = 0;
      for (const auto& s : data) {
        if (!s.device_writes || at == kIdBytes) continue;
        size_t take = std::min(s.bytes.size(), kIdBytes - at);
        std::memcpy(s.bytes.data(), id + at, take);
        at += take;
      }
      *written = static_cast<uint32_t>(at);
      return kStatusOk;
    }
    default:
      return kStatusUnsupported;
  }
}

}  // namespace kvpc
