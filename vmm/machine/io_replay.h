// IoReplay: `kvpc replay FILE` — plays an `--record-io` recording back against fresh device
// models and checks that they answer exactly as they did (docs/io-recording.md).
//
// The devices are the real Board (same classes, same ports, same IRQs) built on a
// ReplayVmBackend: no KVM, no emulator, no vCPU. Each recorded access is performed on the
// buses in order; each read's answer must equal the recorded one. Every interrupt-line change
// the replayed devices make must equal the recorded sequence. Recorded host inputs (console
// bytes, integration RX signals, link resets) are fed to the same device methods at their
// place in the stream. The first difference ends the replay and is described: which access
// (index, record, address, device + offset), expected vs. got.
//
// A malformed file (bad magic, unknown version, a record cut short, an unknown tag, a missing
// end marker, trailing bytes) is an error, not a mismatch: replay_io() returns it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "vmm/io_record.h"
#include "vmm/result.h"

namespace kvpc {

struct ReplayReport {
  io_record::Header header;
  uint64_t records = 0;
  uint64_t accesses = 0;
  uint64_t reads_checked = 0;
  uint64_t interrupts = 0;
  uint64_t inputs = 0;
  uint64_t boards = 1;
  // Set when the devices answered differently: the first difference, in words.
  std::optional<std::string> mismatch;
  uint64_t mismatch_record = 0;  // index of the record where it was found
};

Result<io_record::Header> parse_io_record_header(std::span<const uint8_t> file, size_t* header_bytes = nullptr);
Result<ReplayReport> replay_io(std::span<const uint8_t> file);

}  // namespace kvpc
