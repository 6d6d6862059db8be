#include "integration/integration_device.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "vmm/observe.h"

namespace kvpc {

using namespace proto;

namespace {
PciIdentity integration_identity() {
  PciIdentity id;
  id.vendor_id = kVendorId;
  id.device_id = kDeviceId;
  id.revision = kRevision;
  id.class_code = kClassCode;
  id.subsystem_vendor_id = kSubsystemVendorId;
  id.subsystem_id = kSubsystemId;
  id.interrupt_pin = kInterruptPinIntA;
  return id;
}
}  // namespace

IntegrationDevice::IntegrationDevice(const GuestMemory& memory, IrqLine& irq)
    : memory_(memory), irq_(irq), config_(integration_identity()), registers_(*this) {
  config_.define_bar(0, PciBarKind::kIo, kBar0Size);
  config_.define_bar(1, PciBarKind::kMemory32, 0);  // reserved: reads 0, size 0
}

IntegrationDevice::~IntegrationDevice() {
  if (doorbell_fd_ >= 0) close(doorbell_fd_);
}

Status IntegrationDevice::init() {
  doorbell_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (doorbell_fd_ < 0) {
    return make_error(fmt::format("integration device: eventfd for DOORBELL failed: {}", strerror(errno)));
  }
  return ok_status();
}

// --- BAR0 -----------------------------------------------------------------------------------------

void IntegrationDevice::Registers::read(uint64_t offset, std::span<uint8_t> data) {
  // Registers are dwords: anything else reads all ones (the bus pre-filled it).
  if (data.size() != 4 || offset % 4 != 0 || offset >= kBar0Size) {
    std::fill(data.begin(), data.end(), uint8_t{0xFF});
    return;
  }
  store_le(data, device_.read_register(static_cast<uint32_t>(offset)));
}

void IntegrationDevice::Registers::write(uint64_t offset, std::span<const uint8_t> data) {
  // DOORBELL takes "any value" of any width: a guest that rings it with a byte OUT must not be
  // ignored just because the ioeventfd only matches dwords.
  if (offset == kRegDoorbell) {
    device_.signal_doorbell();
    return;
  }
  if (data.size() != 4 || offset % 4 != 0 || offset >= kBar0Size) return;
  device_.write_register(static_cast<uint32_t>(offset), static_cast<uint32_t>(load_le(data)));
}

uint32_t IntegrationDevice::read_register(uint32_t offset) {
  switch (offset) {
    case kRegMagic: return kMagic;
    case kRegDeviceVersion: return kDeviceVersion;
    case kRegRingGpaLo: return ring_gpa_lo_.load(std::memory_order_relaxed);
    case kRegRingGpaHi: return ring_gpa_hi_.load(std::memory_order_relaxed);
    case kRegRingPages: return ring_pages_.load(std::memory_order_relaxed);
    case kRegIsr: {
      std::lock_guard lock(mutex_);
      uint32_t value = isr_;
      isr_ = 0;
      update_line_locked();
      return value;
    }
    case kRegStatus: {
      std::lock_guard lock(mutex_);
      return (area_ ? kStatusAttached : 0) | (uint32_t{last_error_} << kStatusErrorShift);
    }
    case kRegErrorCount: {
      std::lock_guard lock(mutex_);
      return error_count_;
    }
    default: return 0;  // CONTROL and DOORBELL are write-only; unused offsets read 0
  }
}

void IntegrationDevice::write_register(uint32_t offset, uint32_t value) {
  switch (offset) {
    case kRegRingGpaLo: ring_gpa_lo_.store(value, std::memory_order_relaxed); break;
    case kRegRingGpaHi: ring_gpa_hi_.store(value, std::memory_order_relaxed); break;
    case kRegRingPages: ring_pages_.store(value, std::memory_order_relaxed); break;
    case kRegControl:
      if (value == kControlAttach) {
        attach();
      } else if (value == kControlReset) {
        {
          std::lock_guard lock(mutex_);
          detach_locked();
        }
        signal_doorbell();
      }
      break;
    default: break;  // read-only registers: writes dropped
  }
}

void IntegrationDevice::attach() {
  if (observe::on(observe::kDevices)) [[unlikely]] observe::device_event("integration", "attach", ring_gpa_lo_.load());
  uint64_t gpa = (uint64_t{ring_gpa_hi_.load(std::memory_order_relaxed)} << 32) |
                 ring_gpa_lo_.load(std::memory_order_relaxed);
  auto area = RingArea::map(memory_, gpa, ring_pages_.load(std::memory_order_relaxed));
  {
    std::lock_guard lock(mutex_);
    detach_locked();  // a new ATTACH replaces the old link (and ends what was in flight on it)
    error_count_ = 0;
    last_error_ = 0;
    if (area) {
      area_ = area;
    } else {
      error_count_ = 1;
      last_error_ = static_cast<uint8_t>(LinkError::kAttach);
      ++lifetime_errors_[static_cast<size_t>(LinkError::kAttach)];
    }
  }
  signal_doorbell();
}

void IntegrationDevice::detach_locked() {
  ++epoch_;
  area_.reset();
  isr_ = 0;
  update_line_locked();
}

void IntegrationDevice::update_line_locked() {
  bool level = (isr_ & kIsrReset) != 0 || ((isr_ & kIsrRx) != 0 && !rx_masked_);
  if ((config_.command() & pci::kCommandInterruptDisable) != 0) level = false;
  config_.set_interrupt_status(level);
  if (level != line_) {
    line_ = level;
    irq_.set_level(level);
  }
}

// --- Event-loop side ------------------------------------------------------------------------------

IntegrationDevice::LinkState IntegrationDevice::link_state() const {
  std::lock_guard lock(mutex_);
  return LinkState{epoch_, area_};
}

bool IntegrationDevice::consume_doorbell() {
  if (doorbell_fd_ < 0) return false;
  uint64_t value = 0;
  return ::read(doorbell_fd_, &value, sizeof(value)) == static_cast<ssize_t>(sizeof(value));
}

void IntegrationDevice::signal_doorbell() {
  if (doorbell_fd_ < 0) return;
  uint64_t one = 1;
  // Non-blocking: a counter at its maximum is still readable, so a failed write loses nothing.
  [[maybe_unused]] ssize_t n = ::write(doorbell_fd_, &one, sizeof(one));
}

void IntegrationDevice::signal_rx(uint64_t epoch, bool masked) {
  const uint8_t input[9] = {static_cast<uint8_t>(epoch), static_cast<uint8_t>(epoch >> 8), static_cast<uint8_t>(epoch >> 16),
                            static_cast<uint8_t>(epoch >> 24), static_cast<uint8_t>(epoch >> 32),
                            static_cast<uint8_t>(epoch >> 40), static_cast<uint8_t>(epoch >> 48),
                            static_cast<uint8_t>(epoch >> 56), static_cast<uint8_t>(masked ? 1 : 0)};
  observe::InputScope recorded(observe::Input::kIntegrationSignalRx, input);
  std::lock_guard lock(mutex_);
  if (epoch != epoch_ || !area_) return;
  isr_ |= kIsrRx;
  rx_masked_ = masked;
  update_line_locked();
}

void IntegrationDevice::count_error(uint64_t epoch, LinkError error) {
  const uint8_t input[9] = {static_cast<uint8_t>(epoch), static_cast<uint8_t>(epoch >> 8), static_cast<uint8_t>(epoch >> 16),
                            static_cast<uint8_t>(epoch >> 24), static_cast<uint8_t>(epoch >> 32),
                            static_cast<uint8_t>(epoch >> 40), static_cast<uint8_t>(epoch >> 48),
                            static_cast<uint8_t>(epoch >> 56), static_cast<uint8_t>(error)};
  observe::InputScope recorded(observe::Input::kIntegrationCountError, input);
  std::lock_guard lock(mutex_);
  size_t index = static_cast<size_t>(error);
  if (index < lifetime_errors_.size()) ++lifetime_errors_[index];
  if (epoch != epoch_) return;
  ++error_count_;
  last_error_ = static_cast<uint8_t>(error);
}

void IntegrationDevice::host_reset_link() {
  observe::InputScope recorded(observe::Input::kIntegrationHostReset, {});
  {
    std::lock_guard lock(mutex_);
    detach_locked();
    isr_ = kIsrReset;
    update_line_locked();
  }
  signal_doorbell();
}

void IntegrationDevice::reset() {
  observe::InputScope recorded(observe::Input::kIntegrationReset, {});
  ring_gpa_lo_.store(0);
  ring_gpa_hi_.store(0);
  ring_pages_.store(0);
  {
    std::lock_guard lock(mutex_);
    detach_locked();
    rx_masked_ = false;
    error_count_ = 0;
    last_error_ = 0;
  }
  signal_doorbell();
}

uint64_t IntegrationDevice::lifetime_errors(LinkError error) const {
  std::lock_guard lock(mutex_);
  size_t index = static_cast<size_t>(error);
  return index < lifetime_errors_.size() ? lifetime_errors_[index] : 0;
}

bool IntegrationDevice::irq_asserted() const {
  std::lock_guard lock(mutex_);
  return line_;
}


void IntegrationDevice::describe(StateWriter& out) {
  std::lock_guard lock(mutex_);
  out.begin("registers");
  out.number("ring_gpa_lo", ring_gpa_lo_.load(std::memory_order_relaxed));
  out.number("ring_gpa_hi", ring_gpa_hi_.load(std::memory_order_relaxed));
  out.number("ring_pages", ring_pages_.load(std::memory_order_relaxed));
  out.number("isr", isr_);
  out.number("status", (area_ ? kStatusAttached : 0) | (uint32_t{last_error_} << kStatusErrorShift));
  out.number("error_count", error_count_);
  out.end();
  out.number("epoch", epoch_);
  out.flag("attached", area_.has_value());
  out.flag("rx_masked", rx_masked_);
  out.flag("irq_level", line_);
  out.begin("lifetime_errors");
  for (size_t i = 0; i < lifetime_errors_.size(); ++i) {
    if (lifetime_errors_[i] != 0) out.number(fmt::format("{}", i), lifetime_errors_[i]);
  }
  out.end();
}
}  // namespace kvpc
