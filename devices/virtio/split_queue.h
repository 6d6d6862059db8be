// SplitQueue: one virtio split virtqueue in the legacy (virtio 0.9.5 / "transitional") layout,
// as the device sees it: descriptor table, available ring, used ring, all in guest memory.
//
// Legacy layout for a queue of N entries at guest-physical `base` (page aligned):
//   base                      descriptors: N x {u64 addr, u32 len, u16 flags, u16 next}
//   base + 16N                avail: u16 flags, u16 idx, u16 ring[N], u16 used_event
//   align_up(.., 4096)        used:  u16 flags, u16 idx, {u32 id, u32 len}[N], u16 avail_event
//
// Everything the guest wrote is untrusted: a chain is walked with a hop limit of N (so a
// loop ends), every buffer must lie inside guest RAM (GuestMemory::span), indirect
// descriptors are refused (not negotiated), and device-readable buffers must come before
// device-writable ones. A broken chain is reported, never followed.
//
// Concurrency contract: not thread-safe; the owning device serialises every call (its queue
// mutex). Ring indices in guest memory are read with acquire and published with release
// ordering, the barriers the virtio memory model asks of a device.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vmm/guest_memory.h"

namespace kvpc::virtio {

inline constexpr uint16_t kDescNext = 1;
inline constexpr uint16_t kDescWrite = 2;
inline constexpr uint16_t kDescIndirect = 4;
inline constexpr uint16_t kAvailNoInterrupt = 1;
inline constexpr uint64_t kLegacyAlign = 4096;

// One buffer of a chain, already checked to lie inside guest memory.
struct Segment {
  std::span<uint8_t> bytes;  // host view of guest memory
  bool device_writes = false;
};

enum class ChainError {
  kNone,
  kHeadOutOfRange,    // avail ring names a descriptor >= N
  kTooLong,           // more than N hops: a loop
  kBadAddress,        // a buffer outside guest RAM (or crossing regions)
  kIndirect,          // VIRTQ_DESC_F_INDIRECT without the feature
  kReadAfterWrite,    // a device-readable buffer after a device-writable one
  kAvailIndexJump,    // avail idx moved by more than N: the ring is garbage
};
const char* chain_error_name(ChainError error);

class SplitQueue {
 public:
  // Bytes the legacy layout occupies for N entries.
  static uint64_t legacy_bytes(uint16_t size);

  // Points the queue at `base`; false (queue stays unconfigured) when size is not a power of
  // two in 1..32768 or the area is not inside one writable (RAM, not ROM) region of guest memory.
  bool configure(const GuestMemory& memory, uint64_t base, uint16_t size);
  void reset();
  bool ready() const { return size_ != 0; }
  uint16_t size() const { return size_; }

  // The head of the next available chain; nullopt when the ring is empty. Sets *error to
  // kAvailIndexJump (and returns nullopt) when the driver's index is impossible.
  std::optional<uint16_t> pop_available(ChainError* error);
  // Walks the chain at `head` into `out` (cleared first).
  ChainError read_chain(uint16_t head, std::vector<Segment>& out) const;
  // Returns chain `head` to the driver with `written` bytes written by the device.
  void push_used(uint16_t head, uint32_t written);
  // The driver asked for no interrupts (VRING_AVAIL_F_NO_INTERRUPT).
  bool interrupts_suppressed() const;

 private:
  // DMA into ROM (the firmware image) is refused like DMA outside memory.
  bool in_rom(uint64_t gpa) const;
  const GuestMemory* memory_ = nullptr;
  uint16_t size_ = 0;
  uint8_t* descriptors_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint16_t last_available_ = 0;
  uint16_t used_index_ = 0;
};

}  // namespace kvpc::virtio
