// Machine: the per-VM state every emulated vCPU shares (owned by EmuVm).
//
// Holds the guest memory (read-only view of the region table; contents are written by
// vCPUs directly through checked spans), the PIC pair, the ioeventfd table and the wake
// channel a halted vCPU sleeps on.
//
// Concurrency contract: memory is set up before any vCPU runs and is then immutable. The
// ioeventfd table may change while vCPUs run (a guest moving a PCI BAR, from a vCPU thread):
// a mutex guards it, uncontended in practice (one writer per BAR move, a lookup per port or
// MMIO write — small next to interpreting the instruction); the PIC is internally locked; wake() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <span>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "vmm/emu/pic.h"
#include "vmm/guest_memory.h"
#include "vmm/vm_backend.h"

namespace kvpc::emu {

struct IoEventFd {
  IoSpace space;
  uint64_t address;
  uint32_t length;
  int fd;
  std::optional<uint64_t> datamatch;
};

// Where a guest-physical page lives.
struct PhysPage {
  uint8_t* host = nullptr;  // nullptr: not RAM/ROM (MMIO)
  bool read_only = false;
  // For pages of a dirty-logged region: the bitmap word and bit a store must set.
  std::atomic<uint64_t>* dirty_word = nullptr;
  uint64_t dirty_bit = 0;
};

class Machine {
 public:
  Machine();

  // Also allocates a dirty bitmap for every region with log_dirty.
  void set_memory(const GuestMemory* memory);
  const GuestMemory* memory() const { return memory_; }
  PicPair& pic() { return pic_; }

  // Host view of the 4 KiB page at `page_gpa` (4 KiB aligned).
  PhysPage lookup_page(uint64_t page_gpa) const;

  // Moves the pages written since the last call into `out` and clears them (exchange per
  // word, so a store racing with the fetch lands in this fetch or the next, never lost).
  // False when `region` has no bitmap.
  bool fetch_dirty_log(const MemoryRegion& region, std::span<uint64_t> out);

  void add_ioeventfd(const IoEventFd& e);
  // Removes the entry equal to `e` in every field; false when there is none.
  bool remove_ioeventfd(const IoEventFd& e);
  // True (and the eventfd signalled) when a registered ioeventfd matches this write.
  bool signal_ioeventfd(IoSpace space, uint64_t address, uint32_t length, uint64_t value) const;

  // Halt support: a vCPU waits on the channel until `ready()` holds; wake() re-checks it.
  template <typename Pred>
  void wait(Pred ready) {
    std::unique_lock lock(wake_mutex_);
    wake_cv_.wait(lock, ready);
  }
  void wake();

 private:
  const GuestMemory* memory_ = nullptr;
  struct DirtyLog {
    uint64_t gpa = 0;
    uint64_t size = 0;
    std::unique_ptr<std::atomic<uint64_t>[]> bits;
  };
  std::vector<DirtyLog> dirty_logs_;  // built by set_memory, then immutable (contents atomic)
  PicPair pic_;
  mutable std::mutex ioeventfd_mutex_;  // guards ioeventfds_
  std::vector<IoEventFd> ioeventfds_;
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
};

}  // namespace kvpc::emu
