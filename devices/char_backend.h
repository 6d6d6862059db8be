// CharBackend: where console bytes from the guest go (UART transmit, debugcon).
//
// write() is called on vCPU threads, from inside a device's I/O handler, so it must not
// allocate, throw, or fail loudly: a backend that cannot deliver bytes counts them as
// dropped and the guest carries on. Errors worth a message happen only when a backend is
// made (make_char_backend returns a Result).
//
// Concurrency contract: every backend accepts write() from several threads at once and
// keeps each call's bytes contiguous. stats() may be read from any thread.
//
// SIGPIPE: a stdio or file: backend on a pipe or socket whose reader went away gets EPIPE,
// which is counted like any other error, but only if the process ignores SIGPIPE (the
// kvpc command does so at start-up); otherwise the kernel's signal ends the process.
//
// Backends:
//   stdio      the host's standard output (fd 1; not closed by kvpc)
//   file:PATH  PATH opened for appending, created 0600 if missing
//   none       bytes are counted and discarded
//   capture    CaptureCharBackend, an in-memory buffer for tests (not a spec string)
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "vmm/result.h"

namespace kvpc {

struct CharBackendStats {
  uint64_t bytes_written = 0;  // delivered to the sink
  uint64_t bytes_dropped = 0;  // given to write() but not delivered
  uint64_t write_errors = 0;   // failed write(2) calls (or other sink failures)
};

class CharBackend {
 public:
  virtual ~CharBackend() = default;

  // The spec this backend was made from ("stdio", "file:/tmp/log", "none", "capture").
  virtual std::string_view description() const = 0;

  // Exit path: no allocation, no throw. Bytes that cannot be delivered are counted.
  virtual void write(std::span<const uint8_t> bytes) = 0;

  CharBackendStats stats() const;

 protected:
  void count_written(uint64_t n) { bytes_written_.fetch_add(n, std::memory_order_relaxed); }
  void count_dropped(uint64_t n) { bytes_dropped_.fetch_add(n, std::memory_order_relaxed); }
  void count_error() { write_errors_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> bytes_dropped_{0};
  std::atomic<uint64_t> write_errors_{0};
};

// Parses "stdio", "file:PATH" or "none". Errors name the spec and, for files, the path and
// the reason (missing directory, a directory, permission denied, ...).
Result<std::unique_ptr<CharBackend>> make_char_backend(std::string_view spec);

// An in-memory sink for tests anywhere in the project: collects what the guest printed and
// lets a test wait until some text shows up.
//
// The buffer is reserved when the backend is made and never grows, so write() does not
// allocate; bytes past capacity are counted as dropped (stats().bytes_dropped). One mutex
// guards the buffer; a condition variable wakes wait_for().
class CaptureCharBackend final : public CharBackend {
 public:
  static constexpr size_t kDefaultCapacity = size_t{1} << 20;

  explicit CaptureCharBackend(size_t capacity = kDefaultCapacity);

  std::string_view description() const override { return "capture"; }
  void write(std::span<const uint8_t> bytes) override;

  // A copy of everything captured so far.
  std::string text() const;
  size_t size() const;
  void clear();

  // Waits until text() contains needle or timeout passes; true if it was found.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable grew_;
  std::string buffer_;
  size_t capacity_;
};

}  // namespace kvpc
