// observe: the switchboard between the exit path and the optional debugging observers —
// the tracer (vmm/trace.h) and the I/O recorder (vmm/io_record.h).
//
// Why a process-wide switch: a kvpc process runs one VM, and the places that produce events
// (the exit handler, interrupt lines, devices, the integration link) sit in every layer.
// Threading an observer pointer through each constructor would touch every device for a
// feature that is off almost always. Instead one atomic word says which observers want
// what; every producer tests it with one relaxed load and a predicted-not-taken branch,
// and only when a bit is set calls out of line into this file. That is the entire cost of
// tracing and recording when they are off (tests/bench/exit_path_bench.cc measures it).
//
// Concurrency contract: install_*() happen while no vCPU runs (kvpc run sets them up before
// the first boot and removes them after the last); the mask bits for trace categories may
// change at any time from any thread (`kvpc trace NAME ...`). Producers may run on any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kvpc {

class IoDevice;
class Tracer;
class IoRecorder;

namespace observe {

// Bits of the observe mask. The first five are trace categories (`--trace` names).
enum Bit : uint32_t {
  kPio = 1u << 0,
  kMmio = 1u << 1,
  kIrq = 1u << 2,
  kIntegration = 1u << 3,
  kDevices = 1u << 4,
  kTraceMask = 0x1F,
  kRecord = 1u << 8,  // an IoRecorder is installed: accesses, interrupts and host inputs are recorded
};

extern std::atomic<uint32_t> g_mask;

inline uint32_t mask() { return g_mask.load(std::memory_order_relaxed); }
inline bool any() { return mask() != 0; }
inline bool on(uint32_t bits) { return (mask() & bits) != 0; }

// "pio,mmio" -> bits; false (and `bad` names the word) for an unknown category. "all" = every one.
bool parse_categories(std::string_view text, uint32_t& bits, std::string_view& bad);
std::string_view category_name(uint32_t bit);

enum class Space : uint8_t { kPio = 0, kMmio = 1 };

// One guest access that a device answered (or that nobody claimed: device == nullptr).
struct Access {
  Space space;
  bool write;
  uint8_t size;
  uint32_t vcpu;
  uint64_t address;     // port or guest-physical address
  uint64_t offset;      // into the device's range (0 when unclaimed)
  uint64_t value;       // written, or answered
  const IoDevice* device;
};

// Host-side inputs that change guest-visible device state (recorded so replays are exact).
enum class Input : uint8_t {
  kSerialBytes = 1,            // payload: the bytes offered to COM1's receive()
  kIntegrationSignalRx = 2,    // payload: u64 epoch, u8 masked
  kIntegrationCountError = 3,  // payload: u64 epoch, u8 error
  kIntegrationHostReset = 4,   // payload: none
  kIntegrationReset = 5,       // payload: none
};

// Set-up (no vCPU running). nullptr removes. The tracer's category bits are set with
// set_trace_categories(); installing a recorder sets kRecord.
void install_tracer(Tracer* tracer);
void install_recorder(IoRecorder* recorder);
Tracer* tracer();
void set_trace_categories(uint32_t bits);
// Changes whenever the tracer or the trace categories change. The tracer collapses repeated
// accesses only within one generation: accesses made while tracing was off are unknown, so a
// run of identical accesses never spans a switch.
uint64_t trace_generation();
uint32_t trace_categories();
std::string categories_text(uint32_t bits);

// Machine::create built a Board (the recorder marks every one after the first: a guest reset).
void board_created();

// --- called by producers, only after checking the mask -------------------------------------
void irq(uint32_t gsi, bool level);
void device_event(std::string_view device, const char* what, uint64_t value);
void integration_message(bool from_guest, uint16_t channel, uint16_t type, uint32_t transaction, uint32_t length);

// Brackets a host-side input: while recording, the input is appended and the recorder's lock
// held until the scope ends, so the input lands in the stream exactly where it took effect.
class InputScope {
 public:
  InputScope(Input kind, std::span<const uint8_t> payload);
  ~InputScope();
  InputScope(const InputScope&) = delete;
  InputScope& operator=(const InputScope&) = delete;

 private:
  bool held_ = false;
};

// Locks the recorder (if any) around one device access on the exit path; records the access
// when the guard ends. Only constructed on the observed (slow) path.
class AccessGuard {
 public:
  AccessGuard();
  ~AccessGuard();
  AccessGuard(const AccessGuard&) = delete;
  AccessGuard& operator=(const AccessGuard&) = delete;
  // The access as it happened; recorded and traced at the end of the scope.
  void done(const Access& access);

 private:
  bool held_ = false;
};

// The current thread's vCPU index for events raised on it (set by the vCPU loop), or -1.
void set_thread_vcpu(int index);
int thread_vcpu();

}  // namespace observe
}  // namespace kvpc
