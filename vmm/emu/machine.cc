#include "vmm/emu/machine.h"

#include <unistd.h>

namespace kvpc::emu {

Machine::Machine() {
  pic_.set_wake_hook([this] { wake(); });
}

void Machine::set_memory(const GuestMemory* memory) {
  memory_ = memory;
  dirty_logs_.clear();
  if (memory == nullptr) return;
  for (const auto& region : memory->regions()) {
    if (!region.log_dirty) continue;
    const uint64_t words = (region.size / 4096 + 63) / 64;
    DirtyLog log{region.gpa, region.size, std::make_unique<std::atomic<uint64_t>[]>(words)};
    for (uint64_t i = 0; i < words; ++i) log.bits[i].store(0, std::memory_order_relaxed);
    dirty_logs_.push_back(std::move(log));
  }
}

PhysPage Machine::lookup_page(uint64_t page_gpa) const {
  if (memory_ == nullptr) return {};
  for (const auto& region : memory_->regions()) {
    if (page_gpa >= region.gpa && page_gpa - region.gpa < region.size) {
      // Regions are 4 KiB aligned (GuestMemory::add_region enforces it), so the whole
      // page lies inside this region.
      PhysPage page{region.host + (page_gpa - region.gpa), region.read_only};
      if (region.log_dirty) {
        for (const auto& log : dirty_logs_) {
          if (log.gpa != region.gpa) continue;
          const uint64_t index = (page_gpa - region.gpa) / 4096;
          page.dirty_word = &log.bits[index / 64];
          page.dirty_bit = uint64_t{1} << (index % 64);
        }
      }
      return page;
    }
  }
  return {};
}

bool Machine::fetch_dirty_log(const MemoryRegion& region, std::span<uint64_t> out) {
  for (const auto& log : dirty_logs_) {
    if (log.gpa != region.gpa || log.size != region.size) continue;
    const uint64_t words = (log.size / 4096 + 63) / 64;
    for (uint64_t i = 0; i < words && i < out.size(); ++i) {
      out[i] = log.bits[i].exchange(0, std::memory_order_acq_rel);
    }
    return true;
  }
  return false;
}

void Machine::add_ioeventfd(const IoEventFd& e) {
  std::lock_guard lock(ioeventfd_mutex_);
  ioeventfds_.push_back(e);
}

bool Machine::remove_ioeventfd(const IoEventFd& e) {
  std::lock_guard lock(ioeventfd_mutex_);
  for (auto it = ioeventfds_.begin(); it != ioeventfds_.end(); ++it) {
    if (it->space == e.space && it->address == e.address && it->length == e.length && it->fd == e.fd &&
        it->datamatch == e.datamatch) {
      ioeventfds_.erase(it);
      return true;
    }
  }
  return false;
}

bool Machine::signal_ioeventfd(IoSpace space, uint64_t address, uint32_t length, uint64_t value) const {
  std::lock_guard lock(ioeventfd_mutex_);
  for (const auto& e : ioeventfds_) {
    if (e.space != space || e.address != address) continue;
    if (e.length != 0 && e.length != length) continue;
    if (e.datamatch && *e.datamatch != value) continue;
    uint64_t one = 1;
    // A full eventfd counter (EAGAIN) still means "signalled"; nothing else can fail here.
    ssize_t n = ::write(e.fd, &one, sizeof(one));
    (void)n;
    return true;
  }
  return false;
}

void Machine::wake() {
  // Taking the lock orders this wake-up after a waiter's predicate check (no lost wake-up).
  std::lock_guard lock(wake_mutex_);
  wake_cv_.notify_all();
}

}  // namespace kvpc::emu
