#include "integration/ring.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace kvpc {

using namespace proto;

std::optional<RingArea> RingArea::map(const GuestMemory& memory, uint64_t gpa, uint32_t pages) {
  if (gpa % kPageSize != 0 || pages < kMinRingPages || pages > kMaxRingPages) return std::nullopt;
  uint64_t size = uint64_t{pages} * kPageSize;
  if (gpa + size < gpa) return std::nullopt;
  // The ring must be RAM: a ring in ROM would make the host's index stores fault-free but
  // invisible, and a ring in MMIO has no host mapping at all.
  for (const auto& region : memory.regions()) {
    if (gpa >= region.gpa && gpa + size <= region.gpa + region.size && region.read_only) return std::nullopt;
  }
  auto whole = memory.span(gpa, size);
  if (!whole) return std::nullopt;
  uint32_t tx_pages = (pages - 1) / 2;
  RingArea area;
  area.gpa = gpa;
  area.pages = pages;
  area.header = whole->subspan(0, kPageSize);
  area.tx_data = whole->subspan(kPageSize, uint64_t{tx_pages} * kPageSize);
  area.rx_data = whole->subspan(uint64_t{1 + tx_pages} * kPageSize);
  return area;
}

uint32_t load_index(std::span<uint8_t> header, uint32_t offset) {
  // SAFETY: offset is one of the 4-aligned header constants (< 4096) and header is one
  // page-aligned guest page, so the u32 is in bounds and naturally aligned.
  auto* word = reinterpret_cast<uint32_t*>(header.data() + offset);
  return std::atomic_ref<uint32_t>(*word).load(std::memory_order_acquire);
}

void store_index(std::span<uint8_t> header, uint32_t offset, uint32_t value) {
  auto* word = reinterpret_cast<uint32_t*>(header.data() + offset);  // SAFETY: as in load_index
  std::atomic_ref<uint32_t>(*word).store(value, std::memory_order_release);
}

void copy_from_ring(std::span<const uint8_t> data, uint32_t index, std::span<uint8_t> out) {
  // An empty span may have a null data(): memcpy must not see it, even for 0 bytes.
  if (data.empty() || out.empty() || out.size() > data.size()) return;
  size_t start = index % data.size();
  size_t first = std::min(out.size(), data.size() - start);
  std::memcpy(out.data(), data.data() + start, first);
  std::memcpy(out.data() + first, data.data(), out.size() - first);
}

void copy_to_ring(std::span<uint8_t> data, uint32_t index, std::span<const uint8_t> in) {
  if (data.empty() || in.empty() || in.size() > data.size()) return;
  size_t start = index % data.size();
  size_t first = std::min(in.size(), data.size() - start);
  std::memcpy(data.data() + start, in.data(), first);
  std::memcpy(data.data(), in.data() + first, in.size() - first);
}

// --- TX ------------------------------------------------------------------------------------------

void TxRingReader::discard_to(uint32_t write) {
  // The guest's write index is only trusted to be 8-aligned when it is; rounding down keeps
  // our index on a packet boundary whatever it wrote.
  read_ = write & ~(kPacketAlignment - 1);
  publish();
}

TxRingReader::Outcome TxRingReader::next(Packet* packet) {
  if (area_.tx_data.empty()) return Outcome::kEmpty;
  uint32_t write = load_index(area_.header, kTxWriteOffset);
  uint32_t available = write - read_;
  if (available == 0) return Outcome::kEmpty;
  if (available > area_.tx_data.size()) {
    discard_to(write);
    return Outcome::kBadIndices;
  }
  if (available < kPacketHeaderSize) {
    discard_to(write);
    return Outcome::kBadLength;
  }
  uint8_t header_bytes[kPacketHeaderSize];
  copy_from_ring(area_.tx_data, read_, header_bytes);
  auto header = decode_packet_header(header_bytes);
  // Length checks happen on our copy, before the length sizes anything.
  if (!header || header->length < kMinPayload || header->length > kMaxPayload ||
      padded_packet_size(header->length) > available) {
    discard_to(write);
    return Outcome::kBadLength;
  }
  packet->header = *header;
  packet->payload.resize(header->length);
  copy_from_ring(area_.tx_data, read_ + kPacketHeaderSize, packet->payload);
  read_ += padded_packet_size(header->length);
  return Outcome::kPacket;
}

void TxRingReader::discard_all() {
  if (area_.header.empty()) return;
  discard_to(load_index(area_.header, kTxWriteOffset));
}

void TxRingReader::publish() {
  if (!area_.header.empty()) store_index(area_.header, kTxReadOffset, read_);
}

// --- RX ------------------------------------------------------------------------------------------

RxRingWriter::Outcome RxRingWriter::write(std::span<const uint8_t> packet) {
  if (area_.rx_data.empty()) return Outcome::kFull;
  uint32_t read = load_index(area_.header, kRxReadOffset);
  uint32_t used = write_ - read;
  if (used > area_.rx_data.size()) return Outcome::kBadIndices;
  if (packet.size() > area_.rx_data.size() - used) return Outcome::kFull;
  copy_to_ring(area_.rx_data, write_, packet);
  write_ += static_cast<uint32_t>(packet.size());
  store_index(area_.header, kRxWriteOffset, write_);
  return Outcome::kWritten;
}

bool RxRingWriter::interrupts_masked() const {
  if (area_.header.empty()) return true;
  return load_index(area_.header, kRxInterruptMaskOffset) != 0;
}

}  // namespace kvpc
