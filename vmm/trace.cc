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

struct ThreadRing {
  uint64_t tracer_id = 0;
  Tracer::Ring* ring = nullptr;
};
thread_local ThreadRing t_ring;

}  // namespace

Result<std::unique_ptr<Tracer>> Tracer::open(const std::string& path) {
  if (path.empty() || path == "stderr") return std::unique_ptr<Tracer>(new Tracer(stderr, false, "stderr"));
  std::FILE* file = std::fopen(path.c_str(), "we");
  if (file == nullptr) return make_error(fmt::format("--trace-file {}: {}", path, strerror(errno)));
  return std::unique_ptr<Tracer>(new Tracer(file, true, path));
}

Tracer::Tracer(std::FILE* file, bool owned, std::string destination)
    : file_(file),
      owned_(owned),
      destination_(std::move(destination)),
      start_ns_(monotonic_ns()),
      id_(g_next_tracer_id.fetch_add(1)) {
  const bool created_on_main_thread = ::gettid() == ::getpid();
  flusher_ = std::thread([this, created_on_main_thread] { flusher_loop(created_on_main_thread); });
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

void Tracer::emit(const TraceEvent& event) {
  Ring& ring = ring_for_this_thread();
  const uint64_t head = ring.head.load(std::memory_order_relaxed);
  if (head - ring.tail.load(std::memory_order_acquire) >= Ring::kCapacity) {
    ring.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ring.events[head % Ring::kCapacity] = event;
  ring.head.store(head + 1, std::memory_order_release);
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
    default:
      return fmt::format("{} {} ? {}", when, who, event.device);
  }
}

}  // namespace kvpc
