#include "vmm/pio_bus.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

namespace kvpc {

PioBus::PioBus() : slots_(static_cast<Slot*>(std::calloc(kPorts, sizeof(Slot)))) {
  // A slot is a plain pointer and all-zero means "unclaimed": calloc's zeroes are valid slots.
  static_assert(std::is_trivially_default_constructible_v<Slot>);
  static_assert(std::atomic_ref<Slot>::is_always_lock_free);
  if (!slots_) std::abort();  // 512 KiB at start-up: nothing sensible to do without it
}

const PioBus::Entry* PioBus::load(uint16_t port) const {
  return std::atomic_ref<Slot>(slots_[port]).load(std::memory_order_acquire);
}

IoDevice* PioBus::device_at(uint16_t port) const {
  const Entry* entry = load(port);
  return entry != nullptr ? entry->device : nullptr;
}

Status PioBus::claim(IoDevice* device, uint16_t base, uint32_t length) {
  const std::string name = device != nullptr ? std::string(device->name()) : "(null)";
  if (device == nullptr) return make_error("cannot register a null device on the port bus");
  if (length == 0) return make_error(fmt::format("{}: port range at {:#x} has zero length", name, base));
  if (uint32_t{base} + length > kPorts) {
    return make_error(fmt::format("{}: port range {:#x}+{:#x} runs past port 0xffff", name, base, length));
  }
  for (uint32_t port = base; port < base + length; ++port) {
    if (const Entry* other = load(static_cast<uint16_t>(port)); other != nullptr) {
      return make_error(fmt::format("{}: port {:#x} is already claimed by {}", name, port, other->device->name()));
    }
  }
  // A device mapped again (a moved BAR) keeps its registration index.
  size_t index = 0;
  while (index < ranges_.size() && ranges_[index].device != device) ++index;
  if (index == ranges_.size()) {
    ranges_.push_back(Range{device, base, length});
  } else {
    ranges_[index] = Range{device, base, length};
  }
  // Entries are never freed (a vCPU may still hold one), so a range mapped again reuses the
  // entry it had before: a guest that moves a BAR back and forth in a loop then costs nothing,
  // and the entries stay bounded by the distinct places a BAR can be put.
  const Entry wanted{device, base, length, static_cast<uint16_t>(index)};
  const Entry* entry = nullptr;
  for (const auto& published : entries_) {
    if (published->device == device && published->base == base && published->length == length &&
        published->range == wanted.range) {
      entry = published.get();
      break;
    }
  }
  if (entry == nullptr) {
    entries_.push_back(std::make_unique<Entry>(wanted));
    entry = entries_.back().get();
  }
  for (uint32_t port = base; port < base + length; ++port) {
    std::atomic_ref<Slot>(slots_[port]).store(entry, std::memory_order_release);
  }
  return ok_status();
}

Status PioBus::add(IoDevice* device, uint16_t base, uint32_t length) {
  std::lock_guard lock(writer_mutex_);
  if (frozen()) {
    return make_error(fmt::format("{}: the port bus is frozen; devices are added before the VM runs",
                                  device != nullptr ? device->name() : "(null)"));
  }
  return claim(device, base, length);
}

Status PioBus::map(IoDevice* device, uint16_t base, uint32_t length) {
  std::lock_guard lock(writer_mutex_);
  return claim(device, base, length);
}

void PioBus::unmap(IoDevice* device, uint16_t base, uint32_t length) {
  std::lock_guard lock(writer_mutex_);
  for (uint32_t port = base; port < uint32_t{base} + length && port < kPorts; ++port) {
    const Entry* entry = load(static_cast<uint16_t>(port));
    if (entry != nullptr && entry->device == device && entry->base == base) {
      std::atomic_ref<Slot>(slots_[port]).store(nullptr, std::memory_order_release);
    }
  }
}

std::vector<PioBus::Range> PioBus::ranges() const {
  std::lock_guard lock(writer_mutex_);
  return ranges_;
}

uint16_t PioBus::range_index(uint16_t port) const {
  const Entry* entry = load(port);
  return entry != nullptr ? entry->range : 0;
}

uint16_t PioBus::range_base(uint16_t port) const {
  const Entry* entry = load(port);
  return entry != nullptr ? entry->base : 0;
}

const PioBus::Claim* PioBus::dispatch_read(uint16_t port, std::span<uint8_t> data) {
  std::memset(data.data(), 0xFF, data.size());
  const Entry* entry = load(port);
  if (entry == nullptr) {
    unclaimed_reads_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  entry->device->read(port - entry->base, data);
  return entry;
}

const PioBus::Claim* PioBus::dispatch_write(uint16_t port, std::span<const uint8_t> data) {
  const Entry* entry = load(port);
  if (entry == nullptr) {
    unclaimed_writes_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  entry->device->write(port - entry->base, data);
  return entry;
}

}  // namespace kvpc
