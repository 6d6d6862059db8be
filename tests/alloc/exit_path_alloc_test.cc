// The exit path allocates nothing and takes no shared lock — proven by counting, not timed.
//
// This binary replaces operator new/delete and malloc/calloc/realloc/free, and interposes
// pthread_mutex_lock/trylock and pthread_rwlock_rdlock/wrlock (forwarding to glibc's
// __libc_* / __pthread_* entry points, so no LD_PRELOAD and no dlsym). Counting is switched on
// per thread by an observer around the vCPU's run(): on while kvpc handles an exit (from "run
// returned" to "run entered again"), off inside the accelerator. So what is counted is exactly
// VcpuRunner::loop -> handle_exit -> PioBus/MmioBus -> the device.
//
// Two checks over many exits:
//  - the runner, handler and buses alone (the benchmark guest under the interpreter, 2 x 20000
//    exits to a lock-free sink device): zero allocations, zero locks;
//  - the real board's devices (a scripted vCPU cycling through COM1, debugcon, POST, port A,
//    the i8042, PCI config cycles, the integration device's BAR, ACPI PM, unclaimed ports and
//    MMIO, string I/O): zero allocations, and every mutex taken belongs to one device only —
//    a lock shared across devices (a bus lock, a machine lock) would be taken for two. (PCI
//    config cycles through the host bridge count as accesses to the function they address.)
// The final exit (the debug-exit write that ends the run and formats the outcome) is not
// counted: it ends the machine and is not on the steady-state path.
#include <malloc.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <new>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "guest-firmware/blobs.h"
#include "integration/protocol.h"
#include "tests/bench/bench_machine.h"

// ---- the hooks -------------------------------------------------------------------------

namespace {

thread_local bool t_counting = false;
thread_local const void* t_current_device = nullptr;
std::atomic<uint64_t> g_allocations{0};
std::atomic<uint64_t> g_locks{0};

// Fixed table of the distinct (mutex, device) pairs seen while counting: the hook itself must
// not allocate. Only the counting thread writes it.
struct LockSighting {
  const void* mutex;
  const void* device;
};
constexpr size_t kMaxSightings = 256;
std::array<LockSighting, kMaxSightings> g_sightings;
std::atomic<size_t> g_sighting_count{0};

void note_allocation() {
  if (t_counting) g_allocations.fetch_add(1, std::memory_order_relaxed);
}

void note_lock(const void* lock) {
  if (!t_counting) return;
  g_locks.fetch_add(1, std::memory_order_relaxed);
  const size_t seen = g_sighting_count.load(std::memory_order_relaxed);
  for (size_t i = 0; i < seen && i < kMaxSightings; ++i) {
    if (g_sightings[i].mutex == lock && g_sightings[i].device == t_current_device) return;
  }
  if (seen < kMaxSightings) g_sightings[seen] = {lock, t_current_device};
  g_sighting_count.store(seen + 1, std::memory_order_relaxed);
}

void reset_counts() {
  g_allocations = 0;
  g_locks = 0;
  g_sighting_count = 0;
}

}  // namespace

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
void* __libc_memalign(size_t, size_t);
// glibc's own entry points behind the public names (exported only as versioned symbols,
// hence .symver); calling them skips this file's interposers.
int real_pthread_mutex_lock(pthread_mutex_t*);
int real_pthread_mutex_trylock(pthread_mutex_t*);
int real_pthread_rwlock_rdlock(pthread_rwlock_t*);
int real_pthread_rwlock_wrlock(pthread_rwlock_t*);
__asm__(".symver real_pthread_mutex_lock,__pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver real_pthread_mutex_trylock,__pthread_mutex_trylock@GLIBC_2.2.5");
__asm__(".symver real_pthread_rwlock_rdlock,__pthread_rwlock_rdlock@GLIBC_2.2.5");
__asm__(".symver real_pthread_rwlock_wrlock,__pthread_rwlock_wrlock@GLIBC_2.2.5");

int pthread_mutex_lock(pthread_mutex_t* mutex) {
  note_lock(mutex);
  return real_pthread_mutex_lock(mutex);
}
int pthread_mutex_trylock(pthread_mutex_t* mutex) {
  note_lock(mutex);
  return real_pthread_mutex_trylock(mutex);
}
int pthread_rwlock_rdlock(pthread_rwlock_t* lock) {
  note_lock(lock);
  return real_pthread_rwlock_rdlock(lock);
}
int pthread_rwlock_wrlock(pthread_rwlock_t* lock) {
  note_lock(lock);
  return real_pthread_rwlock_wrlock(lock);
}

// AddressSanitizer owns malloc in sanitizer builds (tools/test.sh KVPC_SANITIZE=1); there the
// operator new hooks below still count every C++ allocation.
#if !defined(__SANITIZE_ADDRESS__)
void* malloc(size_t size) {
  note_allocation();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  note_allocation();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  note_allocation();
  return __libc_realloc(pointer, size);
}
void free(void* pointer) { __libc_free(pointer); }
#endif
}

namespace {
// operator new counts itself; the block underneath must not count a second time.
void* uncounted_malloc(size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  return std::malloc(size);
#else
  return __libc_malloc(size);
#endif
}
}  // namespace

void* operator new(size_t size) {
  note_allocation();
  if (void* p = uncounted_malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  note_allocation();
  return uncounted_malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void* operator new(size_t size, std::align_val_t align) {
  note_allocation();
  const bool was_counting = t_counting;
  t_counting = false;  // aligned_alloc may call malloc: one allocation, counted once
  void* p = aligned_alloc(static_cast<size_t>(align),
                          (size + static_cast<size_t>(align) - 1) & ~(static_cast<size_t>(align) - 1));
  t_counting = was_counting;
  if (p != nullptr) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size, std::align_val_t align) { return operator new(size, align); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

// ---- the tests -------------------------------------------------------------------------

namespace kvpc::bench {
namespace {

constexpr uint16_t kDebugExitPort = 0x501;

// Counting on from "run returned" until "run entered", except for the exit that ends the run.
class CountingObserver final : public RunObserver {
 public:
  CountingObserver(kvm_run* run, PioBus& pio, MmioBus& mmio) : run_(run), pio_(pio), mmio_(mmio) {}
  void entering_run() override { t_counting = false; }
  void run_returned() override {
    const bool ends_run = run_->exit_reason == KVM_EXIT_IO && run_->io.port == kDebugExitPort;
    if (run_->exit_reason == KVM_EXIT_IO) {
      t_current_device = pio_.device_at(run_->io.port);
    } else if (run_->exit_reason == KVM_EXIT_MMIO) {
      const MmioBus::Range* range = mmio_.find(run_->mmio.phys_addr, cache_);
      t_current_device = range != nullptr ? range->device : nullptr;
    } else {
      t_current_device = nullptr;
    }
    if (!ends_run) ++counted_exits_;
    t_counting = !ends_run;
  }
  uint64_t counted_exits() const { return counted_exits_; }

 private:
  kvm_run* run_;
  PioBus& pio_;
  MmioBus& mmio_;
  MmioBus::Cache cache_{};
  uint64_t counted_exits_ = 0;
};

// Cycles through a fixed script of port and MMIO exits aimed at the board's devices, then
// writes the debug-exit port.
class ScriptedVcpu final : public VcpuBackend {
 public:
  struct Step {
    uint32_t reason;  // KVM_EXIT_IO or KVM_EXIT_MMIO
    bool write;
    uint64_t address;  // port or guest-physical address
    uint8_t size;
    uint32_t value;
    uint32_t count = 1;  // string I/O elements
  };

  ScriptedVcpu(std::vector<Step> script, uint64_t exits) : buffer_(8192), script_(std::move(script)), left_(exits) {}
  uint32_t index() const override { return 0; }
  kvm_run* run_state() override { return reinterpret_cast<kvm_run*>(buffer_.data()); }
  size_t run_size() const override { return buffer_.size(); }
  Status set_entry_state(const CpuEntryState&) override { return ok_status(); }
  std::string dump_registers() override { return {}; }
  void kick() override {}
  int run() override {
    kvm_run* run = run_state();
    if (left_ == 0) {
      emit({KVM_EXIT_IO, true, kDebugExitPort, 1, 0}, run);
      return 0;
    }
    --left_;
    emit(script_[next_++ % script_.size()], run);
    return 0;
  }

 private:
  void emit(const Step& step, kvm_run* run) {
    run->exit_reason = step.reason;
    if (step.reason == KVM_EXIT_IO) {
      run->io.direction = step.write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
      run->io.size = step.size;
      run->io.port = static_cast<uint16_t>(step.address);
      run->io.count = step.count;
      run->io.data_offset = 4096;
      for (uint32_t i = 0; i < step.count; ++i) std::memcpy(buffer_.data() + 4096 + i * step.size, &step.value, step.size);
    } else {
      run->mmio.phys_addr = step.address;
      run->mmio.len = step.size;
      run->mmio.is_write = step.write;
      std::memcpy(run->mmio.data, &step.value, step.size);
    }
  }

  std::vector<uint8_t> buffer_;
  std::vector<Step> script_;
  uint64_t left_;
  size_t next_ = 0;
};

std::unique_ptr<BenchMachine> make_machine(uint64_t exits_per_kind) {
  BenchMachineOptions options;
  options.accelerator = "emu";
  options.image = firmware::bench_exits();
  options.cmdline = "n=" + std::to_string(exits_per_kind);
  auto machine = BenchMachine::create(options);
  EXPECT_TRUE(machine) << machine.error().message;
  return machine ? std::move(machine).value() : nullptr;
}

TEST(ExitPathHooks, SeeAnAllocationAndALockWhenCounting) {
  // The hooks must be able to fail the tests below: an allocation and a lock taken while
  // counting are seen, and nothing is counted while counting is off.
  reset_counts();
  std::mutex mutex;
  t_counting = true;
  auto* leak_guard = new int(7);
  { std::lock_guard lock(mutex); }
  t_counting = false;
  delete leak_guard;
  { std::lock_guard lock(mutex); }
  EXPECT_EQ(g_allocations.load(), 1u);
  EXPECT_EQ(g_locks.load(), 1u);
}

TEST(ExitPath, RunnerHandlerAndBusesAllocateAndLockNothingOverManyGuestExits) {
  constexpr uint64_t kExitsPerKind = 20000;
  auto machine = make_machine(kExitsPerKind);
  ASSERT_NE(machine, nullptr);
  CountingObserver observer(machine->vcpu().run_state(), machine->pio(), machine->mmio());
  reset_counts();
  MachineOutcome outcome = machine->run_kvpc_loop(observer);
  t_counting = false;
  ASSERT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit) << outcome.message;
  // N port writes + N MMIO writes to the sink plus the guest's three progress codes on port 0x80.
  EXPECT_EQ(observer.counted_exits(), 2 * kExitsPerKind + 3);
  EXPECT_EQ(g_allocations.load(), 0u);
  // The POST port's three writes take its own mutex; nothing else may lock.
  const void* post = &machine->board().post();
  ASSERT_LE(g_sighting_count.load(), kMaxSightings);
  for (size_t i = 0; i < g_sighting_count.load(); ++i) {
    EXPECT_EQ(g_sightings[i].device, post) << "a lock was taken on an exit that did not reach the POST port";
  }
  EXPECT_EQ(g_locks.load(), 3u);
}

TEST(ExitPath, RealDevicesAllocateNothingAndTakeOnlyTheirOwnLocks) {
  auto machine = make_machine(0);
  ASSERT_NE(machine, nullptr);
  const uint16_t bar0 = BoardPorts::kIntegrationBar0;
  using Step = ScriptedVcpu::Step;
  std::vector<Step> script = {
      {KVM_EXIT_IO, true, BoardPorts::kCom1 + 1, 1, 0x00},       // COM1 IER
      {KVM_EXIT_IO, false, BoardPorts::kCom1 + 5, 1, 0},         // COM1 LSR
      {KVM_EXIT_IO, true, BoardPorts::kCom1, 1, 'x'},            // COM1 THR
      {KVM_EXIT_IO, false, BoardPorts::kCom1 + 2, 1, 0},         // COM1 IIR
      {KVM_EXIT_IO, true, BoardPorts::kDebugcon, 1, 'y'},
      {KVM_EXIT_IO, false, BoardPorts::kDebugcon, 1, 0},
      {KVM_EXIT_IO, true, BoardPorts::kPost, 1, 0x42},
      {KVM_EXIT_IO, false, BoardPorts::kPost, 1, 0},
      {KVM_EXIT_IO, false, BoardPorts::kPortA, 1, 0},
      {KVM_EXIT_IO, false, 0x64, 1, 0},                          // i8042 status
      {KVM_EXIT_IO, true, 0xCF8, 4, 0x80001000},                 // PCI 00:02.0 register 0
      {KVM_EXIT_IO, false, 0xCFC, 4, 0},
      {KVM_EXIT_IO, false, static_cast<uint64_t>(bar0 + proto::kRegMagic), 4, 0},
      {KVM_EXIT_IO, false, static_cast<uint64_t>(bar0 + proto::kRegStatus), 4, 0},
      {KVM_EXIT_IO, false, static_cast<uint64_t>(bar0 + proto::kRegIsr), 4, 0},
      {KVM_EXIT_IO, false, BoardPorts::kAcpiPmControl, 2, 0},
      {KVM_EXIT_IO, false, 0x1234, 2, 0},                        // unclaimed
      {KVM_EXIT_IO, true, 0x1234, 4, 0},
      {KVM_EXIT_IO, true, BenchMachine::kSinkPort, 1, 0, 16},    // rep outsb, 16 elements
      {KVM_EXIT_MMIO, true, BenchMachine::kSinkMmio + 0x100, 4, 0},
      {KVM_EXIT_MMIO, false, BenchMachine::kSinkMmio + 0x104, 8, 0},
      {KVM_EXIT_MMIO, false, 0xFEC00000, 4, 0},                  // unclaimed MMIO
  };
  constexpr uint64_t kExits = 22 * 2000;
  ScriptedVcpu scripted(script, kExits);
  CountingObserver observer(scripted.run_state(), machine->pio(), machine->mmio());
  reset_counts();
  MachineOutcome outcome = machine->run_kvpc_loop(observer, &scripted);
  ASSERT_EQ(outcome.kind, MachineOutcome::Kind::kDebugExit) << outcome.message;
  t_counting = false;
  EXPECT_EQ(observer.counted_exits(), kExits);
  EXPECT_EQ(g_allocations.load(), 0u);
  ASSERT_LE(g_sighting_count.load(), kMaxSightings) << "more distinct (lock, device) pairs than the table holds";
  std::map<const void*, std::set<const void*>> devices_per_lock;
  for (size_t i = 0; i < g_sighting_count.load(); ++i) devices_per_lock[g_sightings[i].mutex].insert(g_sightings[i].device);
  EXPECT_FALSE(devices_per_lock.empty()) << "the board's devices lock their own state; the hook saw none";
  // A config cycle on 0xCFC reaches the addressed function's config space (its lock) through
  // the host bridge, so for this check the bridge stands for the function it addresses: a lock
  // seen under the bridge and exactly one other device is that device's.
  const IoDevice* bridge = machine->pio().device_at(0xCFC);
  for (auto& [lock, devices] : devices_per_lock) {
    if (devices.size() == 2 && devices.count(bridge) == 1) devices.erase(bridge);
  }
  for (const auto& [lock, devices] : devices_per_lock) {
    std::string names;
    for (const void* device : devices) {
      names += device != nullptr ? std::string(static_cast<const IoDevice*>(device)->name()) + " " : "(none) ";
    }
    EXPECT_EQ(devices.size(), 1u) << "mutex " << lock << " was taken on exits to " << names;
    EXPECT_EQ(devices.count(nullptr), 0u) << "mutex " << lock << " taken on an exit no device handled";
  }
}

}  // namespace
}  // namespace kvpc::bench
