// Tracer: one text line per observed event (`kvpc run --trace pio,mmio,irq,integration,devices`).
//
//   <seconds since start> cpu<N>|host <category> <device> ...fields
//   0.004182311 cpu0 pio com1 write port=0x3f8 off=0x0 size=1 value=0x6b
//
// Buffering (the choice, and why): an event is a fixed 64-byte record pushed into a ring that
// belongs to the producing thread (one per vCPU, one for the event loop, ...), so producers
// never share a lock or a cache line and never make a syscall. A flusher thread owned by the
// Tracer wakes every 20 ms, drains every ring, merges the batch by timestamp, formats and
// writes it with one write. A full ring drops the newest events and counts them; the flusher
// reports "# dropped N events" so a gap is never silent. The ring of a thread is allocated
// the first time that thread emits with tracing on, never while tracing is off.
//
// Runs of identical accesses (why: a polling guest — a driver spinning on a UART's line status
// register — repeats one access millions of times a second, and one line each flooded the
// trace file at ~9 MB/s). As syslog does with "last message repeated N times", an event equal
// to its thread's previous one in everything but the time is counted, not queued. The first
// access of a run keeps its own line; the repeats are reported as
//   <time of the latest repeat counted> <cpuN|host> last access repeated N times
// queued by the producer when the run ends (its next different event, so the order is kept),
// and in between by the flusher, which takes the repeats counted so far of a run whose first
// line it has already written. A steady poll therefore costs at most one line per flush
// (~50 lines/s per thread), and the first access, the time of the last one and the order of
// events all survive. Runs never span a change of the trace categories
// (observe::trace_generation()): what the guest did while tracing was off is unknown.
// The producer's side is one relaxed store and one atomic add per repeat: no lock, no syscall,
// no allocation.
//
// Concurrency contract: emit() from any thread; start()/stop() from the owning thread
// (kvpc run's main thread); categories change through observe::set_trace_categories().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmm/observe.h"
#include "vmm/result.h"

namespace kvpc {

struct TraceEvent {
  uint64_t ns;        // since the Tracer started
  uint64_t address;   // port / gpa / gsi / channel
  uint64_t offset;    // into the device range / transaction id
  uint64_t value;     // value / level / message type
  const char* what;   // static string: "read", "write", "in", "out", device event name
  int32_t vcpu;       // -1: a host thread
  uint8_t category;   // an observe::Bit
  uint8_t size;       // access size / message length (capped) / 0
  char device[18];    // NUL-terminated, truncated copy (devices may be gone when flushed)
};
static_assert(sizeof(TraceEvent) == 64);

// TraceEvent::category of a "last access repeated N times" record (value = N); not an observe bit.
inline constexpr uint8_t kTraceRepeatRecord = 0xFF;

class Tracer {
 public:
  // Writes to `path` ("" or "stderr" = standard error). Starts the flusher, unless a test asks
  // for `background_flush` false to decide itself when flush() runs.
  static Result<std::unique_ptr<Tracer>> open(const std::string& path, bool background_flush = true);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  void emit(const TraceEvent& event);
  uint64_t now_ns() const;
  // Drains and writes everything emitted so far (the flusher does this every 20 ms).
  void flush();
  const std::string& destination() const { return destination_; }
  // Lines written so far: events, and "last access repeated N times" records.
  uint64_t events_written() const { return written_.load(std::memory_order_relaxed); }

  // One thread's ring: single producer (that thread), single consumer (the flusher).
  struct Ring {
    static constexpr uint32_t kCapacity = 4096;  // events; power of two
    TraceEvent events[kCapacity];
    std::atomic<uint64_t> head{0};  // next write (producer)
    std::atomic<uint64_t> tail{0};  // next read (consumer)
    std::atomic<uint64_t> dropped{0};

    // The open run of identical events (see the top of this file). `run` packs the ring index
    // of the run's first event (low 32 bits, in the high half) and the repeats not yet reported
    // (low half); the producer adds repeats and closes runs, the flusher may take the repeats
    // (compare-exchange) once it has written the first event. run_last_ns: the latest repeat.
    static constexpr uint64_t kRepeatMask = 0xFFFFFFFFu;
    static constexpr uint64_t kMaxRepeats = kRepeatMask - 1;  // then the next repeat starts a new run
    std::atomic<uint64_t> run{0};
    std::atomic<uint64_t> run_last_ns{0};
    std::atomic<int32_t> run_vcpu{-1};
    // Producer-only: the last event queued, and the trace generation it was queued in.
    TraceEvent last{};
    bool has_last = false;
    uint64_t last_generation = 0;
  };

 private:
  Tracer(std::FILE* file, bool owned, std::string destination, bool background_flush);
  Ring& ring_for_this_thread();
  static bool push(Ring& ring, const TraceEvent& event);  // false (and counted) when full
  // created_on_main_thread: the flusher enters its seccomp filter once the filters exist
  // (a tracer made on a filtered thread already inherited that thread's filter).
  void flusher_loop(bool created_on_main_thread);

  std::FILE* file_;
  bool owned_;
  std::string destination_;
  uint64_t start_ns_;
  uint64_t id_;  // tells rings cached by threads for an older Tracer apart
  std::mutex rings_mutex_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::mutex flush_mutex_;  // one flush at a time (flusher thread, explicit flush())
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<uint64_t> written_{0};
  std::thread flusher_;
};

// Formats one event as its trace line (without the newline). Exposed for tests.
std::string format_trace_event(const TraceEvent& event);

}  // namespace kvpc
