// IoRecorder: `kvpc run --record-io FILE` — every port/MMIO access the guest made (with the
// value written or the answer it got), every interrupt-line change and every host-side input
// that changed device state, in the order they happened. docs/io-recording.md has the
// format; vmm/machine/io_replay.h plays a recording back against fresh devices.
//
// Ordering (why there is a lock): a replay is only exact when the stream order is the order
// in which the devices saw things. A vCPU's access and a host input (console bytes, an
// integration RX signal) can race for the same device, so while recording each access holds
// the recorder's lock across the device call *and* the append, and each host input does the
// same (observe::InputScope). The lock is recursive because a device answering an access may
// raise its interrupt line, which is recorded from inside the same scope. Recording therefore
// serialises device accesses of all vCPUs — fine for a debugging mode, and it costs nothing
// when not recording (observe.h).
//
// Writing: records are appended to a 1 MiB in-memory buffer and written out with one write()
// whenever it fills, under the same lock, and at finish(). The hot path of a recording run
// thus makes a syscall once per ~100k accesses.
//
// Concurrency contract: begin()/finish() on the owning thread while no vCPU runs; everything
// else from any thread, through observe.cc.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "vmm/observe.h"
#include "vmm/result.h"

namespace kvpc {

namespace io_record {

inline constexpr char kMagic[8] = {'K', 'V', 'P', 'C', 'I', 'O', 'R', '\n'};
inline constexpr uint16_t kVersion = 1;

// Record tags: high nibble = kind, low nibble = kind-specific bits.
enum Kind : uint8_t {
  kPio = 0x10,    // low bits: bit 3 = write, bits 0-2 = log2(size); then u8 vcpu, u16 port, value[size]
  kMmio = 0x20,   // same low bits; then u8 vcpu, u64 gpa, value[size]
  kIrq = 0x30,    // low bit 0 = level; then u16 gsi
  kInput = 0x40,  // low nibble = observe::Input; then u32 length, payload[length]
  kBoard = 0x50,  // the machine was rebuilt (guest reset): devices start over at power-on state
  kEnd = 0xF0,    // u64 number of records before it; a file without it was cut short
};

// What the header carries: enough to rebuild the same Board.
struct Header {
  uint16_t version = kVersion;
  uint64_t ram_bytes = 0;
  uint32_t cpus = 1;
  std::string accelerator;  // "kvm" or "emu" (informational: devices are the same)
  std::string name;
};

}  // namespace io_record

class IoRecorder {
 public:
  static Result<std::unique_ptr<IoRecorder>> create(const std::string& path, const io_record::Header& header);
  ~IoRecorder();
  IoRecorder(const IoRecorder&) = delete;
  IoRecorder& operator=(const IoRecorder&) = delete;

  // Writes the end marker and closes the file. Returns the first write error, if any.
  Status finish();
  uint64_t records() const { return records_; }

  // --- observe.cc ---------------------------------------------------------------------------
  void lock() { mutex_.lock(); }
  void unlock() { mutex_.unlock(); }
  // The lock must be held for these.
  void access(const observe::Access& access);
  void irq(uint32_t gsi, bool level);
  void input(observe::Input kind, std::span<const uint8_t> payload);
  void board_created();

 private:
  IoRecorder(std::FILE* file, std::string path);
  void put(std::span<const uint8_t> bytes);
  void put_u8(uint8_t v) { put(std::span<const uint8_t>(&v, 1)); }
  void put_le(uint64_t value, int bytes);
  void write_out();

  std::recursive_mutex mutex_;
  std::FILE* file_;
  std::string path_;
  std::vector<uint8_t> buffer_;
  uint64_t records_ = 0;
  uint64_t boards_ = 0;
  bool failed_ = false;
  std::string error_;
};

}  // namespace kvpc
