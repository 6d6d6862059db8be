// What a debugger asks of the interpreter through KVM_SET_GUEST_DEBUG: int3 reported as a
// debug exit, and DR0-DR3/DR7 breakpoints with the SDM's semantics (vol. 3, 18.2):
//   DR7 bits 2i/2i+1  L/G enable of breakpoint i
//   DR7 bits 16+4i    R/W: 00 instruction, 01 data write, 11 data read or write, 10 I/O
//   DR7 bits 18+4i    LEN: 00 1 byte, 01 2, 11 4, 10 8; the address is aligned down to LEN
// Instruction breakpoints are faults (checked before the instruction runs, by EmuVcpu);
// data breakpoints are traps (the access completes, EmuVcpu reports after the instruction).
// I/O breakpoints (R/W 10, which need CR4.DE) are not emulated and never trigger.
//
// Cost when no debugger is attached: nothing on the TLB-hit path. Pages that hold a data
// breakpoint get a TLB entry without a fast-path host pointer, so only their accesses pay.
#include <linux/kvm.h>

#include "vmm/emu/cpu.h"

namespace kvpc::emu {
namespace {

bool enabled(uint64_t dr7, int i) { return (dr7 >> (2 * i)) & 3; }
unsigned rw_bits(uint64_t dr7, int i) { return static_cast<unsigned>((dr7 >> (16 + 4 * i)) & 3); }
uint64_t length(uint64_t dr7, int i) {
  static constexpr uint64_t kLengths[4] = {1, 2, 8, 4};
  return kLengths[(dr7 >> (18 + 4 * i)) & 3];
}
bool is_data(unsigned rw) { return rw == 1 || rw == 3; }

}  // namespace

void Cpu::set_debug(const DebugSetup& setup) {
  debug_ = setup;
  data_hits_ = 0;
  watch_armed_ = false;
  if (debug_.hw_breakpoints) {
    for (int i = 0; i < 4; ++i) {
      if (enabled(debug_.dr7, i) && is_data(rw_bits(debug_.dr7, i))) watch_armed_ = true;
    }
  }
  flush_tlb();  // entries are re-made with (or without) the watched-page marks
}

uint32_t Cpu::instruction_breakpoint_hits() const {
  if (!debug_.hw_breakpoints) return 0;
  const uint64_t rip = linear(kCs, r_.rip);
  uint32_t hits = 0;
  for (int i = 0; i < 4; ++i) {
    if (enabled(debug_.dr7, i) && rw_bits(debug_.dr7, i) == 0 && debug_.dr[i] == rip) hits |= 1u << i;
  }
  return hits;
}

void Cpu::mark_if_watched(TlbEntry& entry) const {
  if (entry.host == nullptr) return;  // MMIO: exits anyway, data breakpoints there are not emulated
  for (int i = 0; i < 4; ++i) {
    if (!enabled(debug_.dr7, i) || !is_data(rw_bits(debug_.dr7, i))) continue;
    const uint64_t len = length(debug_.dr7, i);
    const uint64_t first = debug_.dr[i] & ~(len - 1);
    if ((first >> 12) == entry.tag || ((first + len - 1) >> 12) == entry.tag) {
      entry.watched_host = entry.host;
      entry.host = nullptr;
      return;
    }
  }
}

void Cpu::note_data_access(uint64_t lin, int size, bool write) {
  for (int i = 0; i < 4; ++i) {
    if (!enabled(debug_.dr7, i)) continue;
    const unsigned rw = rw_bits(debug_.dr7, i);
    if (!is_data(rw) || (rw == 1 && !write)) continue;
    const uint64_t len = length(debug_.dr7, i);
    const uint64_t first = debug_.dr[i] & ~(len - 1);
    if (lin < first + len && first < lin + static_cast<uint64_t>(size)) data_hits_ |= 1u << i;
  }
}

void Cpu::report_int3() {
  // As KVM does with KVM_GUESTDBG_USE_SW_BP: the #BP is not delivered, RIP stays on the int3
  // and the debugger learns its address; resuming re-executes it unless the debugger
  // removed the breakpoint (or moved RIP) first.
  run_->exit_reason = KVM_EXIT_DEBUG;
  run_->debug.arch.exception = 3;
  run_->debug.arch.pc = linear(kCs, insn_rip_);
  run_->debug.arch.dr6 = 0xFFFF0FF0;
  run_->debug.arch.dr7 = debug_.dr7;
  throw ExitRequest{};
}

}  // namespace kvpc::emu
