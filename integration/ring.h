// The ring transport over guest memory (docs/integration-protocol.md section 2-3).
//
// RingArea is the checked host view of the RING_PAGES pages at RING_GPA: header page, TX data
// (guest -> host), RX data (host -> guest). TxRingReader consumes whole packets from TX;
// RxRingWriter produces them into RX.
//
// The indices are shared with a running guest, so they are accessed through std::atomic_ref on
// the mapped u32s: acquire when reading the other side's index, release when publishing ours.
// Packet bytes are copied out of guest memory exactly once and parsed from the copy, so a guest
// rewriting a packet while the host reads it cannot make a checked length change under us.
// The host keeps its own indices (tx_read, rx_write) in host memory and only *writes* them to
// the header: a guest scribbling on them cannot steer the host.
//
// Concurrency contract: a reader/writer object is used by one thread (the event-loop thread).
// The guest side runs concurrently on vCPUs; nothing here trusts any value it wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "integration/protocol.h"
#include "vmm/guest_memory.h"

namespace kvpc {

struct RingArea {
  uint64_t gpa = 0;
  uint32_t pages = 0;
  std::span<uint8_t> header;   // page 0
  std::span<uint8_t> tx_data;  // (pages - 1) / 2 pages
  std::span<uint8_t> rx_data;  // the rest

  // The ring area at gpa, or nullopt when gpa is not page aligned, pages is outside
  // [kMinRingPages, kMaxRingPages] or the area is not entirely inside one RAM region.
  static std::optional<RingArea> map(const GuestMemory& memory, uint64_t gpa, uint32_t pages);
};

// Atomic access to one u32 of the header page (the offsets are 4-aligned constants, and the
// page itself is page aligned in host memory, so atomic_ref's alignment requirement holds).
uint32_t load_index(std::span<uint8_t> header, uint32_t offset);
void store_index(std::span<uint8_t> header, uint32_t offset, uint32_t value);

// Copies with wrap-around between a ring data area and a flat buffer. `index` is the
// free-running byte counter; the data size is a multiple of the page size.
void copy_from_ring(std::span<const uint8_t> data, uint32_t index, std::span<uint8_t> out);
void copy_to_ring(std::span<uint8_t> data, uint32_t index, std::span<const uint8_t> in);

class TxRingReader {
 public:
  enum class Outcome {
    kEmpty,          // nothing to read
    kPacket,         // *packet holds channel + payload; the read index moved past it
    kBadIndices,     // write - read > data size: everything up to tx_write discarded
    kBadLength,      // payload length out of range or longer than the ring holds: discarded
  };
  struct Packet {
    proto::PacketHeader header;
    std::vector<uint8_t> payload;  // exactly header.length bytes
  };

  TxRingReader() = default;
  TxRingReader(RingArea area, uint32_t read_index) : area_(area), read_(read_index) {}

  // Reads the next packet. On kBadIndices/kBadLength the ring is emptied (read = write, published).
  Outcome next(Packet* packet);
  // Drops everything up to the guest's current tx_write and publishes the read index.
  void discard_all();
  // Publishes the read index to the header (release). next() does not publish by itself so a
  // burst of packets costs one store; call after a batch.
  void publish();
  uint32_t read_index() const { return read_; }

 private:
  void discard_to(uint32_t write);
  RingArea area_;
  uint32_t read_ = 0;
};

class RxRingWriter {
 public:
  enum class Outcome { kWritten, kFull, kBadIndices };

  RxRingWriter() = default;
  RxRingWriter(RingArea area, uint32_t write_index) : area_(area), write_(write_index) {}

  // Writes one whole packet (already padded to 8) and publishes rx_write (release).
  Outcome write(std::span<const uint8_t> packet);
  // The guest's rx_interrupt_mask (1 = do not interrupt).
  bool interrupts_masked() const;
  uint32_t write_index() const { return write_; }

 private:
  RingArea area_;
  uint32_t write_ = 0;
};

}  // namespace kvpc
