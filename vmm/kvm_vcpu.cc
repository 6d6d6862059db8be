#include "vmm/kvm_vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace kvpc {

namespace {

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64, bool big) {
  kvm_segment segment{};
  segment.base = 0;
  segment.limit = 0xFFFFFFFF;
  segment.selector = selector;
  segment.type = type;
  segment.present = 1;
  segment.dpl = 0;
  segment.db = big ? 1 : 0;
  segment.s = 1;
  segment.l = code64 ? 1 : 0;
  segment.g = 1;
  return segment;
}

kvm_segment real_segment(uint16_t selector, uint64_t base, uint8_t type) {
  kvm_segment segment{};
  segment.base = base;
  segment.limit = 0xFFFF;
  segment.selector = selector;
  segment.type = type;
  segment.present = 1;
  segment.s = 1;
  return segment;
}

void no_op_handler(int) {}

}  // namespace

int KvmVcpu::kick_signal() { return SIGRTMIN; }

void KvmVcpu::install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action{};
    action.sa_handler = no_op_handler;
    sigemptyset(&action.sa_mask);
    sigaction(kick_signal(), &action, nullptr);
  });
}

KvmVcpu::KvmVcpu(UniqueFd fd, uint32_t index, kvm_run* run, int mmap_size)
    : fd_(std::move(fd)), index_(index), run_(run), mmap_size_(mmap_size) {}

KvmVcpu::~KvmVcpu() {
  if (run_ != nullptr) munmap(run_, static_cast<size_t>(mmap_size_));
}

Result<std::unique_ptr<KvmVcpu>> KvmVcpu::create(int vm_fd, uint32_t index, int mmap_size,
                                                 const std::vector<kvm_cpuid_entry2>& cpuid) {
  install_kick_handler();
  int fd = ioctl(vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(index));
  if (fd < 0) return make_error(fmt::format("KVM_CREATE_VCPU {} failed: {}", index, strerror(errno)));
  UniqueFd vcpu_fd(fd);
  void* mapped = mmap(nullptr, static_cast<size_t>(mmap_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) return make_error(fmt::format("mmap of vCPU {} kvm_run failed: {}", index, strerror(errno)));
  auto vcpu = std::unique_ptr<KvmVcpu>(new KvmVcpu(std::move(vcpu_fd), index, static_cast<kvm_run*>(mapped), mmap_size));

  std::vector<uint8_t> buffer(sizeof(kvm_cpuid2) + cpuid.size() * sizeof(kvm_cpuid_entry2));
  auto* table = reinterpret_cast<kvm_cpuid2*>(buffer.data());
  table->nent = static_cast<uint32_t>(cpuid.size());
  for (size_t i = 0; i < cpuid.size(); ++i) {
    kvm_cpuid_entry2 entry = cpuid[i];
    if (entry.function == 1) entry.ebx = (entry.ebx & 0x00FFFFFF) | (index << 24);  // initial APIC id
    if (entry.function == 0xB || entry.function == 0x1F) entry.edx = index;           // x2APIC id
    table->entries[i] = entry;
  }
  if (ioctl(fd, KVM_SET_CPUID2, table) < 0) {
    return make_error(fmt::format("KVM_SET_CPUID2 on vCPU {} failed: {}", index, strerror(errno)));
  }
  return vcpu;
}

int KvmVcpu::run() {
  if (!has_runner_.load(std::memory_order_relaxed)) {
    runner_.store(pthread_self(), std::memory_order_relaxed);
    has_runner_.store(true, std::memory_order_release);
  }
  if (ioctl(fd_.get(), KVM_RUN, 0) < 0) return -errno;
  return 0;
}

void KvmVcpu::kick() {
  // SAFETY: immediate_exit is a byte in the shared kvm_run that KVM reads on entry; a
  // concurrent store from here is the documented way to stop the next KVM_RUN.
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_RELEASE);
  if (has_runner_.load(std::memory_order_acquire)) pthread_kill(runner_.load(std::memory_order_relaxed), kick_signal());
}

Status KvmVcpu::set_entry_state(const CpuEntryState& state) {
  kvm_sregs sregs{};
  if (ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return make_error(fmt::format("KVM_GET_SREGS failed: {}", strerror(errno)));
  switch (state.mode) {
    case CpuEntryState::Mode::kReal16: {
      sregs.cs = real_segment(state.cs_selector, state.cs_base, 0xB);
      kvm_segment data = real_segment(state.data_selector, uint64_t{state.data_selector} << 4, 0x3);
      sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
      sregs.cr0 = 0x60000010;  // the reset value: caches disabled, real mode
      sregs.cr4 = 0;
      sregs.efer = 0;
      break;
    }
    case CpuEntryState::Mode::kProtected32: {
      sregs.cs = flat_segment(0x08, 0xB, false, true);
      kvm_segment data = flat_segment(0x10, 0x3, false, true);
      sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
      sregs.cr0 = 0x11;  // PE | ET; paging off, as Multiboot requires
      sregs.cr4 = 0;
      sregs.efer = 0;
      break;
    }
    case CpuEntryState::Mode::kLong64: {
      sregs.cs = flat_segment(state.code_selector, 0xB, true, false);
      kvm_segment data = flat_segment(state.data_selector64, 0x3, false, true);
      sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
      kvm_segment tr{};
      tr.base = state.tss_base;
      tr.limit = state.tss_limit;
      tr.selector = state.tss_selector;
      tr.type = 0xB;  // busy 64-bit TSS
      tr.present = 1;
      sregs.tr = tr;
      sregs.gdt.base = state.gdt_base;
      sregs.gdt.limit = state.gdt_limit;
      sregs.idt.base = state.idt_base;
      sregs.idt.limit = state.idt_limit;
      sregs.cr3 = state.cr3;
      sregs.cr0 = 0x80050033;  // PG | AM | WP | NE | ET | MP | PE
      sregs.cr4 = 0x6A0;       // OSXMMEXCPT | OSFXSR | PGE | PAE
      sregs.efer = 0xD01;      // NXE | LMA | LME | SCE
      break;
    }
  }
  if (ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) return make_error(fmt::format("KVM_SET_SREGS failed: {}", strerror(errno)));
  kvm_regs regs{};
  regs.rax = state.rax;
  regs.rbx = state.rbx;
  regs.rcx = state.rcx;
  regs.rdx = state.rdx;
  regs.rsi = state.rsi;
  regs.rdi = state.rdi;
  regs.rbp = state.rbp;
  regs.rsp = state.rsp;
  regs.rip = state.rip;
  regs.rflags = state.rflags | 0x2;
  if (ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return make_error(fmt::format("KVM_SET_REGS failed: {}", strerror(errno)));
  return ok_status();
}

namespace {

Status vcpu_ioctl(int fd, unsigned long request, void* arg, const char* name, uint32_t index) {
  if (ioctl(fd, request, arg) < 0) return make_error(fmt::format("{} on vCPU {} failed: {}", name, index, strerror(errno)));
  return ok_status();
}

}  // namespace

Status KvmVcpu::get_regs(kvm_regs& regs) { return vcpu_ioctl(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS", index_); }

Status KvmVcpu::set_regs(const kvm_regs& regs) {
  kvm_regs copy = regs;
  return vcpu_ioctl(fd_.get(), KVM_SET_REGS, &copy, "KVM_SET_REGS", index_);
}

Status KvmVcpu::get_sregs(kvm_sregs& sregs) { return vcpu_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", index_); }

Status KvmVcpu::set_sregs(const kvm_sregs& sregs) {
  kvm_sregs copy = sregs;
  return vcpu_ioctl(fd_.get(), KVM_SET_SREGS, &copy, "KVM_SET_SREGS", index_);
}

Status KvmVcpu::set_guest_debug(const kvm_guest_debug& debug) {
  kvm_guest_debug copy = debug;
  return vcpu_ioctl(fd_.get(), KVM_SET_GUEST_DEBUG, &copy, "KVM_SET_GUEST_DEBUG", index_);
}

std::string KvmVcpu::dump_registers() {
  kvm_regs r{};
  kvm_sregs s{};
  if (ioctl(fd_.get(), KVM_GET_REGS, &r) < 0 || ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) {
    return fmt::format("(registers of vCPU {} unavailable: {})", index_, strerror(errno));
  }
  return fmt::format(
      "vCPU {}: rip={:#018x} rflags={:#010x}\n"
      "  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}\n"
      "  rsi={:#018x} rdi={:#018x} rbp={:#018x} rsp={:#018x}\n"
      "  r8 ={:#018x} r9 ={:#018x} r10={:#018x} r11={:#018x}\n"
      "  r12={:#018x} r13={:#018x} r14={:#018x} r15={:#018x}\n"
      "  cs={:#06x} base={:#x} l={} db={} dpl={}  ss={:#06x}  tr={:#06x}\n"
      "  cr0={:#x} cr2={:#x} cr3={:#x} cr4={:#x} efer={:#x}\n"
      "  gdt={:#x}/{:#x} idt={:#x}/{:#x}",
      index_, r.rip, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12,
      r.r13, r.r14, r.r15, s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.cs.dpl, s.ss.selector, s.tr.selector, s.cr0,
      s.cr2, s.cr3, s.cr4, s.efer, s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
}

Result<VcpuRegisters> KvmVcpu::read_registers() {
  kvm_regs r{};
  kvm_sregs s{};
  if (ioctl(fd_.get(), KVM_GET_REGS, &r) < 0 || ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) {
    return make_error(fmt::format("reading the registers of vCPU {}: {}", index_, strerror(errno)));
  }
  VcpuRegisters out;
  out.gpr = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
  out.rip = r.rip;
  out.rflags = r.rflags;
  out.cr0 = s.cr0;
  out.cr2 = s.cr2;
  out.cr3 = s.cr3;
  out.cr4 = s.cr4;
  out.cr8 = s.cr8;
  out.efer = s.efer;
  const kvm_segment* segments[8] = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs, &s.tr, &s.ldt};
  for (size_t i = 0; i < 8; ++i) {
    const kvm_segment& in = *segments[i];
    out.segments[i] = {in.selector, in.base, in.limit, in.type, in.dpl, in.present != 0, in.l != 0, in.db != 0};
  }
  out.gdt_base = s.gdt.base;
  out.gdt_limit = s.gdt.limit;
  out.idt_base = s.idt.base;
  out.idt_limit = s.idt.limit;
  return out;
}

}  // namespace kvpc
