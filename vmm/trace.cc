#include "vmm/trace.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "vmm/thread_sandbox.h"

namespace kvpc {

namespace {

uint64_t monotonic_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

std::atomic<uint64_t> g_next_tracer_id{1};

// The same access (or event) again: equal in everything but the time.
bool same_access(const TraceEvent& a, const TraceEvent& b) {
  return a.address == b.address && a.offset == b.offset && a.value == b.value && a.what == b.what &&
         a.vcpu == b.vcpu && a.category == b.category && a.size == b.size &&
         std::memcmp(a.device, b.device, sizeof(a.device)) == 0;
}

struct ThreadRing {
  uint64_t tracer_id = 0;
  Tracer::Ring* ring = nullptr;
};
thread_local ThreadRing t_ring;

}  // namespace

Result<std::unique_ptr<Tracer>> Tracer::open(const std::string& path, bool background_flush) {
  if (path.empty() || path == "stderr") {
    return std::unique_ptr<Tracer>(new Tracer(stderr, false, "stderr", background_flush));
  }
  std::FILE* file = std::fopen(path.c_str(), "we");
  if (file == nullptr) return make_error(fmt::format("--trace-file {}: {}", path, strerror(errno)));
  return std::unique_ptr<Tracer>(new Tracer(file, true, path, background_flush));
}

Tracer::Tracer(std::FILE* file, bool owned, std::string destination, bool background_flush)
    : file_(file),
      owned_(owned),
      destination_(std::move(destination)),
      start_ns_(monotonic_ns()),
      id_(g_next_tracer_id.fetch_add(1)) {
  const bool created_on_main_thread = ::gettid() == ::getpid();
  if (background_flush) {
    flusher_ = std::thread([this, created_on_main_thread] { flusher_loop(created_on_main_thread); });
  }
}

Tracer::~Tracer() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  flush();
  if (owned_) std::fclose(file_);
}

uint64_t Tracer::now_ns() const { return monotonic_ns() - start_ns_; }

Tracer::Ring& Tracer::ring_for_this_thread() {
  if (t_ring.tracer_id == id_) return *t_ring.ring;
  // First event of this thread with tracing on: the only allocation tracing ever makes.
  auto ring = std::make_unique<Ring>();
  Ring* raw = ring.get();
  {
    std::lock_guard lock(rings_mutex_);
    rings_.push_back(std::move(ring));
  }
  t_ring = {id_, raw};
  return *raw;
}

bool Tracer::push(Ring& ring, const TraceEvent& event) {
  const uint64_t head = ring.head.load(std::memory_order_relaxed);
  if (head - ring.tail.load(std::memory_order_acquire) >= Ring::kCapacity) {
    ring.dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ring.events[head % Ring::kCapacity] = event;
  ring.head.store(head + 1, std::memory_order_release);
  return true;
}

void Tracer::emit(const TraceEvent& event) {
  Ring& ring = ring_for_this_thread();
  const uint64_t generation = observe::trace_generation();
  if (ring.has_last && ring.last_generation == generation && same_access(ring.last, event) &&
      (ring.run.load(std::memory_order_relaxed) & Ring::kRepeatMask) < Ring::kMaxRepeats) {
    // Only the flusher competes for `run`, and it only ever lowers the count: the check holds.
    ring.run_last_ns.store(event.ns, std::memory_order_relaxed);
    ring.run.fetch_add(1, std::memory_order_release);
    return;
  }
  // A different event: close the open run (its repeats not yet reported) before queuing it.
  const uint64_t closed = ring.run.exchange(0, std::memory_order_acquire) & Ring::kRepeatMask;
  if (closed != 0) {
    TraceEvent repeats{};
    repeats.ns = ring.run_last_ns.load(std::memory_order_relaxed);
    repeats.value = closed;
    repeats.vcpu = ring.last.vcpu;
    repeats.category = kTraceRepeatRecord;
    if (!push(ring, repeats)) ring.dropped.fetch_add(closed - 1, std::memory_order_relaxed);
  }
  const uint64_t index = ring.head.load(std::memory_order_relaxed);
  if (!push(ring, event)) {
    ring.has_last = false;  // a dropped event starts no run: its repeats would lack a first line
    return;
  }
  ring.last = event;
  ring.has_last = true;
  ring.last_generation = generation;
  ring.run_vcpu.store(event.vcpu, std::memory_order_relaxed);
  ring.run.store((index & Ring::kRepeatMask) << 32, std::memory_order_release);
}

void Tracer::flush() {
  std::lock_guard flush_lock(flush_mutex_);
  std::vector<TraceEvent> batch;
  uint64_t dropped = 0;
  {
    std::lock_guard lock(rings_mutex_);
    for (auto& ring : rings_) {
      const uint64_t head = ring->head.load(std::memory_order_acquire);
      uint64_t tail = ring->tail.load(std::memory_order_relaxed);
      for (; tail != head; ++tail) batch.push_back(ring->events[tail % Ring::kCapacity]);
      ring->tail.store(tail, std::memory_order_release);
      dropped += ring->dropped.exchange(0, std::memory_order_relaxed);
      // Repeats counted so far of the open run, if its first event is already written (it is
      // the last event drained): report them now, so a run that goes on (a guest polling) or
      // just stops (tracing switched off) shows up within one flush.
      uint64_t run = ring->run.load(std::memory_order_acquire);
      while ((run & Ring::kRepeatMask) != 0 && head != 0 && (run >> 32) == ((head - 1) & Ring::kRepeatMask)) {
        const uint64_t last_ns = ring->run_last_ns.load(std::memory_order_relaxed);
        if (ring->run.compare_exchange_weak(run, run & ~Ring::kRepeatMask, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
          TraceEvent repeats{};
          repeats.ns = last_ns;
          repeats.value = run & Ring::kRepeatMask;
          repeats.vcpu = ring->run_vcpu.load(std::memory_order_relaxed);
          repeats.category = kTraceRepeatRecord;
          batch.push_back(repeats);
          break;
        }
      }
    }
  }
  if (batch.empty() && dropped == 0) return;
  // Rings are per thread; merge them into one timeline.
  std::stable_sort(batch.begin(), batch.end(), [](const TraceEvent& a, const TraceEvent& b) { return a.ns < b.ns; });
  std::string text;
  text.reserve(batch.size() * 72);
  for (const auto& event : batch) {
    text += format_trace_event(event);
    text += '\n';
  }
  if (dropped != 0) text += fmt::format("# dropped {} events (a trace ring was full)\n", dropped);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
  written_.fetch_add(batch.size(), std::memory_order_relaxed);
}

void Tracer::flusher_loop(bool created_on_main_thread) {
  // A tracer set up with the run (--trace, --trace-file) starts on the main thread before the
  // filters are prepared: enter the housekeeping filter as soon as they are, at the latest one
  // flush period later. One made by the event loop (`kvpc trace`) already runs under the
  // loop's filter, inherited at creation; stacking a second one would need prctl, which that
  // filter forbids.
  bool sandbox_pending = created_on_main_thread;
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(20));
    lock.unlock();
    if (sandbox_pending && thread_sandbox_enabled()) {
      sandbox_pending = false;
      if (auto sandboxed = enter_thread_sandbox(ThreadRole::kHousekeeping, "trace-flush"); !sandboxed) {
        std::fprintf(stderr, "kvpc: %s\n", sandboxed.error().message.c_str());
        std::_Exit(2);  // never keep running unfiltered when the filter was asked for
      }
    }
    flush();
    lock.lock();
  }
}

std::string format_trace_event(const TraceEvent& event) {
  const std::string who = event.vcpu >= 0 ? fmt::format("cpu{}", event.vcpu) : std::string("host");
  const std::string when = fmt::format("{}.{:09}", event.ns / 1000000000, event.ns % 1000000000);
  switch (event.category) {
    case observe::kPio:
      return fmt::format("{} {} pio {} {} port={:#x} off={:#x} size={} value={:#x}", when, who, event.device,
                         event.what, event.address, event.offset, event.size, event.value);
    case observe::kMmio:
      return fmt::format("{} {} mmio {} {} addr={:#x} off={:#x} size={} value={:#x}", when, who, event.device,
                         event.what, event.address, event.offset, event.size, event.value);
    case observe::kIrq:
      return fmt::format("{} {} irq {} {} gsi={} level={}", when, who, event.device, event.what, event.address,
                         event.value);
    case observe::kIntegration:
      return fmt::format("{} {} integration {} {} channel={} type={:#x} transaction={} size={}", when, who,
                         event.device, event.what, event.address, event.value, event.offset, event.size);
    case observe::kDevices:
      return fmt::format("{} {} devices {} {} value={:#x}", when, who, event.device, event.what, event.value);
    case kTraceRepeatRecord:
      return fmt::format("{} {} last access repeated {} times", when, who, event.value);
    default:
      return fmt::format("{} {} ? {}", when, who, event.device);
  }
}

}  // namespace kvpc
