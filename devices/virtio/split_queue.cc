#include "devices/virtio/split_queue.h"

#include <cstring>

namespace kvpc::virtio {

namespace {

// SAFETY: every pointer below comes from a GuestMemory::span() that covered the whole ring
// area at configure() time; offsets are bounded by size_. Guest memory stays mapped for the
// machine's lifetime. Unaligned 16/32-bit fields cannot occur: the area is page aligned and
// every field sits at its natural alignment.
uint16_t load16(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE); }
void store16_release(uint8_t* p, uint16_t value) {
  __atomic_store_n(reinterpret_cast<uint16_t*>(p), value, __ATOMIC_RELEASE);
}

}  // namespace

bool SplitQueue::in_rom(uint64_t gpa) const {
  for (const auto& region : memory_->regions()) {
    if (region.read_only && gpa >= region.gpa && gpa - region.gpa < region.size) return true;
  }
  return false;
}

const char* chain_error_name(ChainError error) {
  switch (error) {
    case ChainError::kNone: return "none";
    case ChainError::kHeadOutOfRange: return "descriptor index out of range";
    case ChainError::kTooLong: return "chain longer than the queue (a loop)";
    case ChainError::kBadAddress: return "buffer outside guest memory";
    case ChainError::kIndirect: return "indirect descriptor (not negotiated)";
    case ChainError::kReadAfterWrite: return "device-readable buffer after a device-writable one";
    case ChainError::kAvailIndexJump: return "available index moved by more than the queue size";
  }
  return "?";
}

uint64_t SplitQueue::legacy_bytes(uint16_t size) {
  uint64_t front = 16ULL * size + 6 + 2ULL * size;
  uint64_t used_offset = (front + kLegacyAlign - 1) / kLegacyAlign * kLegacyAlign;
  return used_offset + 6 + 8ULL * size;
}

bool SplitQueue::configure(const GuestMemory& memory, uint64_t base, uint16_t size) {
  reset();
  if (size == 0 || size > 32768 || (size & (size - 1)) != 0) return false;
  if (base % kLegacyAlign != 0) return false;
  auto area = memory.span(base, legacy_bytes(size));
  if (!area) return false;
  // The device writes the used ring: a queue in ROM would let the guest rewrite the firmware
  // image through it (found by the virtio_blk fuzz target).
  for (const auto& region : memory.regions()) {
    if (region.read_only && base >= region.gpa && base - region.gpa < region.size) return false;
  }
  memory_ = &memory;
  size_ = size;
  descriptors_ = area->data();
  avail_ = descriptors_ + 16ULL * size;
  uint64_t front = 16ULL * size + 6 + 2ULL * size;
  used_ = descriptors_ + (front + kLegacyAlign - 1) / kLegacyAlign * kLegacyAlign;
  // A new queue starts at index 0 on both rings (the driver zeroes the area).
  used_index_ = 0;
  last_available_ = 0;
  return true;
}

void SplitQueue::reset() {
  memory_ = nullptr;
  size_ = 0;
  descriptors_ = avail_ = used_ = nullptr;
  last_available_ = used_index_ = 0;
}

std::optional<uint16_t> SplitQueue::pop_available(ChainError* error) {
  *error = ChainError::kNone;
  if (!ready()) return std::nullopt;
  uint16_t available = load16(avail_ + 2);
  uint16_t pending = static_cast<uint16_t>(available - last_available_);
  if (pending == 0) return std::nullopt;
  if (pending > size_) {
    *error = ChainError::kAvailIndexJump;
    return std::nullopt;
  }
  uint16_t head = load16(avail_ + 4 + 2 * (last_available_ % size_));
  ++last_available_;
  return head;
}

ChainError SplitQueue::read_chain(uint16_t head, std::vector<Segment>& out) const {
  out.clear();
  if (head >= size_) return ChainError::kHeadOutOfRange;
  uint16_t index = head;
  bool seen_writable = false;
  for (uint32_t hops = 0;; ++hops) {
    if (hops >= size_) return ChainError::kTooLong;
    uint8_t raw[16];
    std::memcpy(raw, descriptors_ + 16ULL * index, sizeof raw);  // one snapshot: the guest may change it
    uint64_t addr;
    uint32_t length;
    uint16_t flags, next;
    std::memcpy(&addr, raw, 8);
    std::memcpy(&length, raw + 8, 4);
    std::memcpy(&flags, raw + 12, 2);
    std::memcpy(&next, raw + 14, 2);
    if (flags & kDescIndirect) return ChainError::kIndirect;
    bool writes = flags & kDescWrite;
    if (!writes && seen_writable) return ChainError::kReadAfterWrite;
    seen_writable |= writes;
    auto bytes = memory_->span(addr, length);
    if (!bytes || (writes && in_rom(addr))) return ChainError::kBadAddress;
    out.push_back(Segment{*bytes, writes});
    if (!(flags & kDescNext)) return ChainError::kNone;
    if (next >= size_) return ChainError::kHeadOutOfRange;
    index = next;
  }
}

void SplitQueue::push_used(uint16_t head, uint32_t written) {
  uint8_t* element = used_ + 4 + 8ULL * (used_index_ % size_);
  uint32_t id = head;
  std::memcpy(element, &id, 4);
  std::memcpy(element + 4, &written, 4);
  ++used_index_;
  store16_release(used_ + 2, used_index_);  // the element is visible before the index
}

bool SplitQueue::interrupts_suppressed() const {
  return ready() && (load16(avail_) & kAvailNoInterrupt) != 0;
}

}  // namespace kvpc::virtio
