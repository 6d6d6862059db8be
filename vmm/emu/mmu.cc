// Linear -> physical translation (4-level paging, or none), the software TLB, and every
// guest memory access of the interpreter. Guest page tables may point anywhere: each
// table read goes through Machine::lookup_page, and a table outside RAM is a not-present
// page (#PF), never a host access.
#include <cstring>

#include "vmm/emu/cpu.h"

namespace kvpc::emu {
namespace {

constexpr uint64_t kPteP = 1ULL << 0;
constexpr uint64_t kPteRw = 1ULL << 1;
constexpr uint64_t kPteUs = 1ULL << 2;
constexpr uint64_t kPteA = 1ULL << 5;
constexpr uint64_t kPteD = 1ULL << 6;
constexpr uint64_t kPtePs = 1ULL << 7;
constexpr uint64_t kPteNx = 1ULL << 63;
constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ULL;

}  // namespace

void Cpu::flush_tlb() {
  for (auto& e : tlb_) e.tag = ~0ULL;
}

void Cpu::page_fault(uint64_t lin, Access acc, bool present, bool user_access) {
  uint32_t err = 0;
  if (present) err |= 1;
  if (acc == Access::kWrite) err |= 2;
  if (user_access) err |= 4;
  if (acc == Access::kFetch && (r_.efer & kEferNxe)) err |= 16;
  r_.cr2 = lin;
  throw GuestFault{14, true, err};
}

void Cpu::walk(uint64_t lin, Access acc, bool user_access, TlbEntry& e) {
  const uint64_t page = lin >> 12;
  if (!(r_.cr0 & kCr0Pg)) {
    // Paging off: linear is physical (32-bit protected mode).
    uint64_t phys = lin & 0xFFFFF000ULL;
    PhysPage p = machine_.lookup_page(phys);
    e = TlbEntry{page, p.host, phys, true, true, false, true, p.read_only, nullptr, p.dirty_word, p.dirty_bit};
    if (watch_armed_) mark_if_watched(e);
    return;
  }
  if (!(r_.efer & kEferLma)) throw Unsupported{};  // legacy 32-bit paging is out of scope
  const bool nxe = r_.efer & kEferNxe;
  uint64_t table = r_.cr3 & kAddrMask;
  bool rw = true, us = true, nx = false;
  uint64_t phys = 0;
  for (int level = 3; level >= 0; --level) {
    const uint64_t idx = (lin >> (12 + 9 * level)) & 0x1FF;
    PhysPage tp = machine_.lookup_page(table);
    if (tp.host == nullptr) page_fault(lin, acc, false, user_access);
    uint8_t* slot = tp.host + idx * 8;
    uint64_t pte;
    std::memcpy(&pte, slot, 8);
    if (!(pte & kPteP)) page_fault(lin, acc, false, user_access);
    rw = rw && (pte & kPteRw);
    us = us && (pte & kPteUs);
    if (nxe && (pte & kPteNx)) nx = true;
    const bool leaf = level == 0 || ((level == 1 || level == 2) && (pte & kPtePs));
    // Permission check before touching A/D: a faulting access sets neither.
    if (leaf) {
      if (user_access && !us) page_fault(lin, acc, true, user_access);
      if (acc == Access::kWrite && !rw && (user_access || (r_.cr0 & kCr0Wp))) page_fault(lin, acc, true, user_access);
      if (acc == Access::kFetch && nx) page_fault(lin, acc, true, user_access);
    }
    if (!tp.read_only) {
      uint64_t upd = pte | kPteA;
      if (leaf && acc == Access::kWrite) upd |= kPteD;
      if (upd != pte) std::memcpy(slot, &upd, 8);
      pte = upd;
    }
    if (leaf) {
      const int shift = 12 + 9 * level;
      const uint64_t frame_mask = kAddrMask & ~((1ULL << shift) - 1);
      phys = (pte & frame_mask) | (lin & ((1ULL << shift) - 1) & ~0xFFFULL);
      PhysPage p = machine_.lookup_page(phys);
      e = TlbEntry{page, p.host, phys, us, rw, nx, (pte & kPteD) != 0, p.read_only, nullptr, p.dirty_word, p.dirty_bit};
      if (watch_armed_) mark_if_watched(e);
      return;
    }
    table = pte & kAddrMask;
  }
}

Cpu::TlbEntry& Cpu::translate(uint64_t lin, Access acc, bool supervisor) {
  if (code_bits_ == 64 || (r_.efer & kEferLma)) {
    if (static_cast<uint64_t>(static_cast<int64_t>(lin << 16) >> 16) != lin) throw GuestFault{13, true, 0};
  }
  const bool user_access = !supervisor && cpl() == 3;
  const uint64_t page = lin >> 12;
  TlbEntry& e = tlb_[page & (tlb_.size() - 1)];
  if (e.tag != page) walk(lin, acc, user_access, e);
  // Permissions are re-checked on every hit because they depend on CPL and CR0.WP.
  if (user_access && !e.user) page_fault(lin, acc, true, true);
  if (acc == Access::kWrite) {
    if (!e.writable && (user_access || (r_.cr0 & kCr0Wp))) page_fault(lin, acc, true, user_access);
    if (!e.dirty) walk(lin, acc, user_access, e);  // sets the D bit
  } else if (acc == Access::kFetch && e.nx) {
    page_fault(lin, acc, true, user_access);
  }
  return e;
}

uint64_t Cpu::read_mem(uint64_t lin, int size, Access acc, bool supervisor) {
  if ((lin & 0xFFF) + static_cast<uint64_t>(size) > 0x1000) {
    uint64_t v = 0;
    for (int i = 0; i < size; ++i) v |= read_mem(lin + i, 1, acc, supervisor) << (8 * i);
    return v;
  }
  TlbEntry& e = translate(lin, acc, supervisor);
  if (e.host != nullptr) {
    uint64_t v = 0;
    std::memcpy(&v, e.host + (lin & 0xFFF), static_cast<size_t>(size));
    return v;
  }
  if (e.watched_host != nullptr) {
    // A page with an armed data breakpoint (debugger only): RAM, taken off the fast path.
    if (acc != Access::kFetch) note_data_access(lin, size, false);
    uint64_t v = 0;
    std::memcpy(&v, e.watched_host + (lin & 0xFFF), static_cast<size_t>(size));
    return v;
  }
  if (acc == Access::kFetch) throw Unsupported{};
  return mmio_read(e.phys | (lin & 0xFFF), size);
}

void Cpu::write_mem(uint64_t lin, int size, uint64_t value, bool supervisor) {
  if ((lin & 0xFFF) + static_cast<uint64_t>(size) > 0x1000) {
    // Check both pages before writing either, so a fault leaves memory untouched.
    translate(lin, Access::kWrite, supervisor);
    translate(lin + size - 1, Access::kWrite, supervisor);
    for (int i = 0; i < size; ++i) write_mem(lin + i, 1, value >> (8 * i), supervisor);
    return;
  }
  TlbEntry& e = translate(lin, Access::kWrite, supervisor);
  if (e.host != nullptr && !e.rom) {
    std::memcpy(e.host + (lin & 0xFFF), &value, static_cast<size_t>(size));
    // A framebuffer page: tell the display what changed (KVM's dirty log, in software).
    if (e.dirty_word != nullptr) e.dirty_word->fetch_or(e.dirty_bit, std::memory_order_relaxed);
    return;
  }
  if (e.watched_host != nullptr && !e.rom) {
    note_data_access(lin, size, true);
    std::memcpy(e.watched_host + (lin & 0xFFF), &value, static_cast<size_t>(size));
    if (e.dirty_word != nullptr) e.dirty_word->fetch_or(e.dirty_bit, std::memory_order_relaxed);
    return;
  }
  // Writes to ROM exit as MMIO, like KVM with a read-only memory slot.
  mmio_write(e.phys | (lin & 0xFFF), size, value);
}

size_t Cpu::fetch_window(uint64_t lin, uint8_t* out, size_t max) {
  size_t in_page = 0x1000 - (lin & 0xFFF);
  size_t n = in_page < max ? in_page : max;
  if (n == 0) return 0;
  TlbEntry& e = translate(lin, Access::kFetch, false);
  uint8_t* host = e.host != nullptr ? e.host : e.watched_host;
  if (host == nullptr) throw Unsupported{};  // executing from MMIO is not emulated
  std::memcpy(out, host + (lin & 0xFFF), n);
  return n;
}

uint64_t Cpu::mmio_read(uint64_t phys, int size) {
  if (delivering_) throw GuestFault{13, true, 0};
  if (pending_mmio_ && pending_phys_ == phys && run_->mmio.len == static_cast<uint32_t>(size) && !run_->mmio.is_write) {
    pending_mmio_ = false;
    uint64_t v = 0;
    std::memcpy(&v, run_->mmio.data, static_cast<size_t>(size));
    return v;
  }
  if (exit_pending_) throw Unsupported{};  // a second exit in one instruction
  pending_mmio_ = true;
  pending_phys_ = phys;
  run_->exit_reason = KVM_EXIT_MMIO;
  run_->mmio.phys_addr = phys;
  run_->mmio.len = static_cast<uint32_t>(size);
  run_->mmio.is_write = 0;
  std::memset(run_->mmio.data, 0, sizeof(run_->mmio.data));
  throw ExitRequest{};
}

void Cpu::mmio_write(uint64_t phys, int size, uint64_t value) {
  if (delivering_) throw GuestFault{13, true, 0};
  if (machine_.signal_ioeventfd(IoSpace::kMmio, phys, static_cast<uint32_t>(size), value & (size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1))) {
    return;
  }
  if (exit_pending_) throw Unsupported{};
  exit_pending_ = true;
  run_->exit_reason = KVM_EXIT_MMIO;
  run_->mmio.phys_addr = phys;
  run_->mmio.len = static_cast<uint32_t>(size);
  run_->mmio.is_write = 1;
  std::memset(run_->mmio.data, 0, sizeof(run_->mmio.data));
  std::memcpy(run_->mmio.data, &value, static_cast<size_t>(size));
}

}  // namespace kvpc::emu
