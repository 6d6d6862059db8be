// String instructions (movs stos lods cmps scas ins outs) and their rep forms.
//
// Each iteration commits RSI/RDI/RCX before the next, so a fault or an exit in the middle
// of a rep leaves the architectural state the SDM describes: RIP still at the rep
// instruction, the counters reflecting the completed iterations. A rep runs at most
// kChunk iterations per step() so interrupts and kicks are still noticed; rep outs/ins
// exit once per element (kvm_run io.count is always 1).
#include "vmm/emu/cpu.h"
#include "vmm/emu/flags.h"

namespace kvpc::emu {
namespace {
constexpr int kChunk = 4096;
}

// One element. Returns false when a repe/repne condition ends the loop.
bool Cpu::string_iteration(const Insn& in) {
  const uint16_t op = in.op;
  const int size = (op & 1) ? in.osz : 1;
  const int asz = in.asz;
  const uint64_t delta = (r_.rflags & kDF) ? static_cast<uint64_t>(-size) : static_cast<uint64_t>(size);
  const int src_seg = in.seg >= 0 ? static_cast<int>(in.seg) : static_cast<int>(kDs);
  const uint64_t si = reg(kRsi, asz), di = reg(kRdi, asz);
  auto src = [&] { return linear(src_seg, si); };
  auto dst = [&] { return linear(kEs, di); };
  bool go_on = true;
  switch (op) {
    case 0xA4: case 0xA5:
      write_mem(dst(), size, read_mem(src(), size));
      set_reg(kRsi, asz, si + delta);
      set_reg(kRdi, asz, di + delta);
      break;
    case 0xAA: case 0xAB:
      write_mem(dst(), size, reg(kRax, size));
      set_reg(kRdi, asz, di + delta);
      break;
    case 0xAC: case 0xAD:
      set_reg(kRax, size, read_mem(src(), size));
      set_reg(kRsi, asz, si + delta);
      break;
    case 0xA6: case 0xA7: {
      uint64_t a = read_mem(src(), size);
      uint64_t b = read_mem(dst(), size);
      set_flags(alu_sub(a, b, 0, size).flags);
      set_reg(kRsi, asz, si + delta);
      set_reg(kRdi, asz, di + delta);
      go_on = in.rep == 0xF3 ? (r_.rflags & kZF) != 0 : (r_.rflags & kZF) == 0;
      break;
    }
    case 0xAE: case 0xAF: {
      uint64_t b = read_mem(dst(), size);
      set_flags(alu_sub(reg(kRax, size), b, 0, size).flags);
      set_reg(kRdi, asz, di + delta);
      go_on = in.rep == 0xF3 ? (r_.rflags & kZF) != 0 : (r_.rflags & kZF) == 0;
      break;
    }
    case 0x6C: case 0x6D: {
      const uint16_t port = static_cast<uint16_t>(r_.gpr[kRdx]);
      check_io_permission(port, size);
      // Check the destination is writable before the port is read (the read may have
      // side effects in the device and cannot be repeated).
      translate(dst(), Access::kWrite, false);
      uint64_t value = 0;
      if (!port_in(port, size, value)) return false;  // exit first; this element is not done
      write_mem(dst(), size, value);
      set_reg(kRdi, asz, di + delta);
      break;
    }
    default: {  // 6E 6F outs
      const uint16_t port = static_cast<uint16_t>(r_.gpr[kRdx]);
      check_io_permission(port, size);
      port_out(port, size, read_mem(src(), size));
      set_reg(kRsi, asz, si + delta);
      break;
    }
  }
  return go_on;
}

void Cpu::exec_string(const Insn& in) {
  if (in.rep == 0) {
    string_iteration(in);
    return;
  }
  const int asz = in.asz;
  for (int n = 0; n < kChunk; ++n) {
    if (reg(kRcx, asz) == 0) return;
    bool go_on = string_iteration(in);
    if (exit_requested_) return;  // the element waits for the VMM: RCX still counts it
    set_reg(kRcx, asz, reg(kRcx, asz) - 1);
    const bool cond = (in.op & 0xF6) == 0xA6;  // cmps/scas honour the rep condition
    if (reg(kRcx, asz) == 0 || (cond && !go_on)) return;
    if (exit_pending_) break;
  }
  r_.rip = insn_rip_;  // more to do: resume this instruction on the next step
}

}  // namespace kvpc::emu
