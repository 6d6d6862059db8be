#include "vmm/observe.h"

#include <cstring>
#include <string>

#include "vmm/io_device.h"
#include "vmm/io_record.h"
#include "vmm/trace.h"

namespace kvpc::observe {

std::atomic<uint32_t> g_mask{0};

namespace {

std::atomic<Tracer*> g_tracer{nullptr};
std::atomic<IoRecorder*> g_recorder{nullptr};
std::atomic<uint32_t> g_categories{0};  // what the user asked for, kept while no tracer is installed
std::atomic<uint64_t> g_trace_generation{0};
thread_local int t_vcpu = -1;

constexpr struct {
  uint32_t bit;
  std::string_view name;
} kCategories[] = {
    {kPio, "pio"}, {kMmio, "mmio"}, {kIrq, "irq"}, {kIntegration, "integration"}, {kDevices, "devices"},
};

void update_mask() {
  uint32_t bits = 0;
  if (g_tracer.load(std::memory_order_acquire) != nullptr) bits |= g_categories.load(std::memory_order_relaxed);
  if (g_recorder.load(std::memory_order_acquire) != nullptr) bits |= kRecord;
  g_mask.store(bits, std::memory_order_release);
}

void copy_name(char (&out)[18], std::string_view name) {
  size_t n = std::min(name.size(), sizeof(out) - 1);
  std::memcpy(out, name.data(), n);
  out[n] = '\0';
}

void trace_access(Tracer& tracer, const Access& access) {
  TraceEvent event{};
  event.ns = tracer.now_ns();
  event.address = access.address;
  event.offset = access.offset;
  event.value = access.value;
  event.what = access.write ? "write" : "read";
  event.vcpu = static_cast<int32_t>(access.vcpu);
  event.category = static_cast<uint8_t>(access.space == Space::kPio ? kPio : kMmio);
  event.size = access.size;
  copy_name(event.device, access.device != nullptr ? access.device->name() : std::string_view("unclaimed"));
  tracer.emit(event);
}

}  // namespace

bool parse_categories(std::string_view text, uint32_t& bits, std::string_view& bad) {
  bits = 0;
  if (text == "off" || text == "none") return true;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view word = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (word.empty()) continue;
    if (word == "all") {
      bits |= kTraceMask;
      continue;
    }
    bool known = false;
    for (const auto& category : kCategories) {
      if (word == category.name) {
        bits |= category.bit;
        known = true;
      }
    }
    if (!known) {
      bad = word;
      return false;
    }
  }
  return true;
}

std::string_view category_name(uint32_t bit) {
  for (const auto& category : kCategories) {
    if (category.bit == bit) return category.name;
  }
  return "?";
}

std::string categories_text(uint32_t bits) {
  std::string text;
  for (const auto& category : kCategories) {
    if ((bits & category.bit) == 0) continue;
    if (!text.empty()) text += ',';
    text += category.name;
  }
  return text.empty() ? "off" : text;
}

void install_tracer(Tracer* tracer) {
  g_trace_generation.fetch_add(1, std::memory_order_relaxed);
  g_tracer.store(tracer, std::memory_order_release);
  update_mask();
}

void install_recorder(IoRecorder* recorder) {
  g_recorder.store(recorder, std::memory_order_release);
  update_mask();
}

Tracer* tracer() { return g_tracer.load(std::memory_order_acquire); }

void set_trace_categories(uint32_t bits) {
  g_trace_generation.fetch_add(1, std::memory_order_relaxed);
  g_categories.store(bits & kTraceMask, std::memory_order_relaxed);
  update_mask();
}

uint64_t trace_generation() { return g_trace_generation.load(std::memory_order_relaxed); }

uint32_t trace_categories() { return g_categories.load(std::memory_order_relaxed); }

void board_created() {
  if (IoRecorder* recorder = g_recorder.load(std::memory_order_acquire)) recorder->board_created();
}

void set_thread_vcpu(int index) { t_vcpu = index; }
int thread_vcpu() { return t_vcpu; }

void irq(uint32_t gsi, bool level) {
  if (IoRecorder* recorder = g_recorder.load(std::memory_order_acquire)) {
    recorder->lock();
    recorder->irq(gsi, level);
    recorder->unlock();
  }
  if (on(kIrq)) {
    if (Tracer* tracer = g_tracer.load(std::memory_order_acquire)) {
      TraceEvent event{};
      event.ns = tracer->now_ns();
      event.address = gsi;
      event.value = level ? 1 : 0;
      event.what = level ? "raise" : "lower";
      event.vcpu = t_vcpu;
      event.category = kIrq;
      copy_name(event.device, "gsi");
      tracer->emit(event);
    }
  }
}

void device_event(std::string_view device, const char* what, uint64_t value) {
  if (!on(kDevices)) return;
  Tracer* tracer = g_tracer.load(std::memory_order_acquire);
  if (tracer == nullptr) return;
  TraceEvent event{};
  event.ns = tracer->now_ns();
  event.value = value;
  event.what = what;
  event.vcpu = t_vcpu;
  event.category = kDevices;
  copy_name(event.device, device);
  tracer->emit(event);
}

void integration_message(bool from_guest, uint16_t channel, uint16_t type, uint32_t transaction, uint32_t length) {
  if (!on(kIntegration)) return;
  Tracer* tracer = g_tracer.load(std::memory_order_acquire);
  if (tracer == nullptr) return;
  TraceEvent event{};
  event.ns = tracer->now_ns();
  event.address = channel;
  event.offset = transaction;
  event.value = type;
  event.what = from_guest ? "from-guest" : "to-guest";
  event.vcpu = t_vcpu;
  event.category = kIntegration;
  event.size = static_cast<uint8_t>(std::min<uint32_t>(length, 255));
  copy_name(event.device, "integration");
  tracer->emit(event);
}

InputScope::InputScope(Input kind, std::span<const uint8_t> payload) {
  if ((mask() & kRecord) == 0) return;
  IoRecorder* recorder = g_recorder.load(std::memory_order_acquire);
  if (recorder == nullptr) return;
  recorder->lock();
  recorder->input(kind, payload);
  held_ = true;
}

InputScope::~InputScope() {
  if (held_) g_recorder.load(std::memory_order_acquire)->unlock();
}

AccessGuard::AccessGuard() {
  if ((mask() & kRecord) == 0) return;
  IoRecorder* recorder = g_recorder.load(std::memory_order_acquire);
  if (recorder == nullptr) return;
  recorder->lock();
  held_ = true;
}

AccessGuard::~AccessGuard() {
  if (held_) g_recorder.load(std::memory_order_acquire)->unlock();
}

void AccessGuard::done(const Access& access) {
  if (held_) g_recorder.load(std::memory_order_acquire)->access(access);
  const uint32_t bit = access.space == Space::kPio ? kPio : kMmio;
  if (on(bit)) {
    if (Tracer* tracer = g_tracer.load(std::memory_order_acquire)) trace_access(*tracer, access);
  }
}

}  // namespace kvpc::observe
