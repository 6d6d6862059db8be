// FixedRing: a fixed-capacity FIFO stored inline, for device queues on the exit path.
//
// Never allocates: the storage is a std::array inside the owning device. Not thread-safe;
// the owning device guards it with its own lock.
#pragma once

#include <array>
#include <cstddef>

namespace kvpc {

template <typename T, size_t Capacity>
class FixedRing {
  static_assert(Capacity > 0, "a ring needs room for at least one element");

 public:
  static constexpr size_t capacity() { return Capacity; }
  size_t size() const { return size_; }
  size_t space() const { return Capacity - size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == Capacity; }

  // Appends value; false (and no change) when the ring is full.
  bool push(const T& value) {
    if (full()) return false;
    slots_[(head_ + size_) % Capacity] = value;
    ++size_;
    return true;
  }

  // Appends value, discarding the oldest element when the ring is full (a history log).
  void push_overwriting(const T& value) {
    if (full()) pop();
    push(value);
  }

  // Removes and returns the oldest element. Precondition: !empty().
  T pop() {
    T value = slots_[head_];
    head_ = (head_ + 1) % Capacity;
    --size_;
    return value;
  }

  // The index-th oldest element. Precondition: index < size().
  const T& at(size_t index) const { return slots_[(head_ + index) % Capacity]; }

  void clear() {
    head_ = 0;
    size_ = 0;
  }

 private:
  std::array<T, Capacity> slots_{};
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace kvpc
