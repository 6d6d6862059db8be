#include "vmm/emu/machine.h"

#include <unistd.h>

namespace kvpc::emu {

Machine::Machine() {
  pic_.set_wake_hook([this] { wake(); });
}

PhysPage Machine::lookup_page(uint64_t page_gpa) const {
  if (memory_ == nullptr) return {};
  for (const auto& region : memory_->regions()) {
    if (page_gpa >= region.gpa && page_gpa - region.gpa < region.size) {
      // Regions are 4 KiB aligned (GuestMemory::add_region enforces it), so the whole
      // page lies inside this region.
      return {region.host + (page_gpa - region.gpa), region.read_only};
    }
  }
  return {};
}

bool Machine::signal_ioeventfd(IoSpace space, uint64_t address, uint32_t length, uint64_t value) const {
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
