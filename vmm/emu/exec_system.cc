// System instructions: port I/O, hlt, flag control, segment and descriptor-table loads,
// control registers, MSRs, cpuid, rdtsc, TLB maintenance, software interrupts.
#include <x86intrin.h>

#include <cstring>

#include "vmm/emu/cpu.h"
#include "vmm/emu/flags.h"

namespace kvpc::emu {
namespace {

constexpr uint32_t kMsrEfer = 0xC0000080;
constexpr uint32_t kMsrFsBase = 0xC0000100;
constexpr uint32_t kMsrGsBase = 0xC0000101;
constexpr uint32_t kMsrKernelGsBase = 0xC0000102;
constexpr uint64_t kDataOffset = 4096;

bool is_pic_port(uint16_t port) {
  return port == 0x20 || port == 0x21 || port == 0xA0 || port == 0xA1 || port == 0x4D0 || port == 0x4D1;
}

}  // namespace

void Cpu::check_io_permission(uint16_t port, int size) {
  const unsigned iopl = static_cast<unsigned>((r_.rflags >> 12) & 3);
  if (static_cast<unsigned>(cpl()) <= iopl) return;
  // CPL > IOPL: the TSS I/O permission bitmap decides (bits clear = allowed).
  const uint64_t base = r_.tr.base;
  if (r_.tr.limit < 0x67) throw GuestFault{13, true, 0};
  const uint64_t map = read_mem(base + 0x66, 2, Access::kRead, true);
  const uint64_t byte = map + port / 8;
  if (byte + 1 > r_.tr.limit) throw GuestFault{13, true, 0};
  const uint64_t bits = read_mem(base + byte, 2, Access::kRead, true);
  const uint64_t mask = ((1ULL << size) - 1) << (port & 7);
  if (bits & mask) throw GuestFault{13, true, 0};
}

bool Cpu::port_in(uint16_t port, int size, uint64_t& value) {
  if (size == 1 && is_pic_port(port)) {
    uint8_t v = 0xFF;
    machine_.pic().port_read(port, v);
    value = v;
    return true;
  }
  uint8_t* data = reinterpret_cast<uint8_t*>(run_) + kDataOffset;
  if (pending_in_ && pending_port_ == port && pending_size_ == size) {
    pending_in_ = false;
    value = 0;
    std::memcpy(&value, data, static_cast<size_t>(size));
    return true;
  }
  if (exit_pending_) throw Unsupported{};
  pending_in_ = true;
  pending_port_ = port;
  pending_size_ = size;
  run_->exit_reason = KVM_EXIT_IO;
  run_->io.direction = KVM_EXIT_IO_IN;
  run_->io.size = static_cast<uint8_t>(size);
  run_->io.port = port;
  run_->io.count = 1;
  run_->io.data_offset = kDataOffset;
  std::memset(data, 0, 8);
  exit_requested_ = true;
  return false;
}

void Cpu::port_out(uint16_t port, int size, uint64_t value) {
  if (size == 1 && is_pic_port(port)) {
    machine_.pic().port_write(port, static_cast<uint8_t>(value));
    return;
  }
  value &= size_mask(size);
  if (machine_.signal_ioeventfd(IoSpace::kPort, port, static_cast<uint32_t>(size), value)) return;
  if (exit_pending_) throw Unsupported{};
  exit_pending_ = true;
  uint8_t* data = reinterpret_cast<uint8_t*>(run_) + kDataOffset;
  run_->exit_reason = KVM_EXIT_IO;
  run_->io.direction = KVM_EXIT_IO_OUT;
  run_->io.size = static_cast<uint8_t>(size);
  run_->io.port = port;
  run_->io.count = 1;
  run_->io.data_offset = kDataOffset;
  std::memset(data, 0, 8);
  std::memcpy(data, &value, static_cast<size_t>(size));
}

Segment Cpu::load_segment(uint16_t selector, bool code) {
  uint64_t d = read_descriptor(selector);
  if (!(d & (1ULL << 47))) throw GuestFault{11, true, static_cast<uint32_t>(selector & 0xFFFC)};
  const bool is_code = (d >> 43) & 1;
  const bool is_seg = (d >> 44) & 1;
  if (!is_seg || (code && !is_code)) throw GuestFault{13, true, static_cast<uint32_t>(selector & 0xFFFC)};
  return segment_from_descriptor(selector, d);
}

void Cpu::load_data_segment(int seg, uint16_t selector) {
  if (real_mode()) {
    // Real mode changes only selector and base; limit and size stay as the last
    // protected-mode load left them ("big real mode", which firmware relies on).
    r_.seg[seg].selector = selector;
    r_.seg[seg].base = static_cast<uint64_t>(selector) << 4;
    return;
  }
  if ((selector & 0xFFFC) == 0) {
    if (seg == kSs && (code_bits_ != 64 || cpl() == 3)) throw GuestFault{13, true, 0};
    Segment s;
    s.selector = selector;
    // A null selector loads an unusable segment with base 0 (64-bit code then sets
    // FS/GS bases through the MSRs).
    r_.seg[seg] = s;
    return;
  }
  r_.seg[seg] = load_segment(selector, false);
}

void Cpu::write_cr(unsigned n, uint64_t value) {
  switch (n) {
    case 0: {
      if (code_bits_ == 64 && !(value & kCr0Pg)) throw GuestFault{13, true, 0};
      if ((value & kCr0Pg) && !(value & kCr0Pe)) throw GuestFault{13, true, 0};
      const bool paging_on = (value & kCr0Pg) && !(r_.cr0 & kCr0Pg);
      if (paging_on) {
        if (!(r_.efer & kEferLme)) throw Unsupported{};  // legacy 32-bit paging: out of scope
        if (!(r_.cr4 & kCr4Pae)) throw GuestFault{13, true, 0};
        r_.efer |= kEferLma;
      }
      if (!(value & kCr0Pg)) r_.efer &= ~kEferLma;
      r_.cr0 = (value & 0xFFFFFFFFULL) | 0x10;  // ET is hard-wired
      break;
    }
    case 2: r_.cr2 = value; return;
    case 3: r_.cr3 = value; break;
    case 4:
      if ((r_.efer & kEferLma) && !(value & kCr4Pae)) throw GuestFault{13, true, 0};
      r_.cr4 = value;
      break;
    default: throw GuestFault{6, false, 0};
  }
  flush_tlb();
  update_mode();
}

void Cpu::exec_system(const Insn& in) {
  const uint16_t op = in.op;
  const bool cpl0 = cpl() == 0;
  auto require_cpl0 = [&] {
    if (!cpl0) throw GuestFault{13, true, 0};
  };
  switch (op) {
    case 0xE4: case 0xE5: case 0xEC: case 0xED: {
      const int size = (op & 1) ? (in.osz == 2 ? 2 : 4) : 1;
      const uint16_t port = (op <= 0xE5) ? static_cast<uint16_t>(in.imm & 0xFF) : static_cast<uint16_t>(r_.gpr[kRdx]);
      check_io_permission(port, size);
      uint64_t value = 0;
      if (!port_in(port, size, value)) return;  // exit to the VMM; restarted with the answer
      set_reg(kRax, size, value);
      return;
    }
    case 0xE6: case 0xE7: case 0xEE: case 0xEF: {
      const int size = (op & 1) ? (in.osz == 2 ? 2 : 4) : 1;
      const uint16_t port = (op <= 0xE7) ? static_cast<uint16_t>(in.imm & 0xFF) : static_cast<uint16_t>(r_.gpr[kRdx]);
      check_io_permission(port, size);
      port_out(port, size, reg(kRax, size));
      return;
    }
    case 0xF4:
      require_cpl0();
      halted_ = true;
      return;
    case 0xF5: r_.rflags ^= kCF; return;
    case 0xF8: r_.rflags &= ~kCF; return;
    case 0xF9: r_.rflags |= kCF; return;
    case 0xFC: r_.rflags &= ~kDF; return;
    case 0xFD: r_.rflags |= kDF; return;
    case 0xFA: case 0xFB: {
      const unsigned iopl = static_cast<unsigned>((r_.rflags >> 12) & 3);
      if (static_cast<unsigned>(cpl()) > iopl) throw GuestFault{13, true, 0};
      if (op == 0xFA) {
        r_.rflags &= ~kIF;
      } else {
        // STI: interrupts stay blocked for one more instruction ("sti; hlt" is atomic).
        if (!(r_.rflags & kIF)) shadow_ = true;
        r_.rflags |= kIF;
      }
      return;
    }
    case 0xCC:
      if (debug_.intercept_int3) report_int3();  // a debugger's breakpoint: KVM_EXIT_DEBUG, not #BP
      deliver(3, Event::kSoftware, false, 0);
      return;
    case 0xCD: deliver(static_cast<uint8_t>(in.imm), Event::kSoftware, false, 0); return;
    case 0x8C: {  // mov r/m, sreg
      const uint16_t sel = r_.seg[in.opreg()].selector;
      rm_write(in, in.mod == 3 ? in.osz : 2, sel);
      return;
    }
    case 0x8E: {  // mov sreg, r/m
      const int seg = in.opreg();
      load_data_segment(seg, static_cast<uint16_t>(rm_read(in, 2)));
      if (seg == kSs) shadow_ = true;
      return;
    }
    case 0x0F00: {  // ltr
      require_cpl0();
      const uint16_t sel = static_cast<uint16_t>(rm_read(in, 2));
      if ((sel & 0xFFFC) == 0 || (sel & 4)) throw GuestFault{13, true, static_cast<uint32_t>(sel & 0xFFFC)};
      uint64_t lo = read_descriptor(sel);
      const unsigned type = (lo >> 40) & 0x1F;  // S bit + type: 0x09 = available 32/64-bit TSS
      if (type != 0x09) throw GuestFault{13, true, static_cast<uint32_t>(sel & 0xFFFC)};
      if (!(lo & (1ULL << 47))) throw GuestFault{11, true, static_cast<uint32_t>(sel & 0xFFFC)};
      Segment tr = segment_from_descriptor(sel, lo);
      const uint64_t slot = r_.gdtr.base + (sel & 0xFFF8);
      if (r_.efer & kEferLma) {
        if ((sel & 0xFFF8) + 15u > r_.gdtr.limit) throw GuestFault{13, true, static_cast<uint32_t>(sel & 0xFFFC)};
        tr.base |= (read_mem(slot + 8, 4, Access::kRead, true) & 0xFFFFFFFF) << 32;
      }
      write_mem(slot, 8, lo | (2ULL << 40), true);  // mark busy
      tr.type = 0xB;
      r_.tr = tr;
      return;
    }
    case 0x0F01: {
      const int digit = in.opreg();
      const int base_size = code_bits_ == 64 ? 8 : 4;
      if (digit == 4) {  // smsw: the low word of CR0 (a register destination takes the operand size)
        if (in.mod == 3) set_reg(in.rm, in.osz, r_.cr0 & size_mask(in.osz));
        else write_mem(mem_address(in), 2, r_.cr0 & 0xFFFF);
        return;
      }
      if (digit == 6) {  // lmsw: sets PE MP EM TS, can set but never clear PE
        require_cpl0();
        const uint64_t v = rm_read(in, 2) & 0xF;
        write_cr(0, (r_.cr0 & ~0xEULL) | v | (r_.cr0 & kCr0Pe));
        return;
      }
      const uint64_t lin = mem_address(in);
      if (digit == 7) {  // invlpg
        require_cpl0();
        tlb_[(lin >> 12) & (tlb_.size() - 1)].tag = ~0ULL;
        return;
      }
      TableRegister& t = (digit == 0 || digit == 2) ? r_.gdtr : r_.idtr;
      if (digit <= 1) {  // sgdt / sidt
        write_mem(lin, 2, t.limit);
        write_mem(lin + 2, base_size, t.base);
        return;
      }
      require_cpl0();
      uint64_t limit = read_mem(lin, 2);
      uint64_t base = read_mem(lin + 2, base_size);
      if (code_bits_ != 64 && in.osz == 2) base &= 0xFFFFFF;  // 16-bit operand size: 24-bit base
      t.limit = static_cast<uint16_t>(limit);
      t.base = base;
      return;
    }
    case 0x0F08: case 0x0F09: require_cpl0(); return;  // invd / wbinvd: no caches to manage
    case 0x0F0B: throw GuestFault{6, false, 0};           // ud2
    case 0x0F20: {
      require_cpl0();
      uint64_t v;
      switch (in.opreg()) {
        case 0: v = r_.cr0; break;
        case 2: v = r_.cr2; break;
        case 3: v = r_.cr3; break;
        case 4: v = r_.cr4; break;
        default: throw GuestFault{6, false, 0};
      }
      set_reg(in.rm, code_bits_ == 64 ? 8 : 4, v);
      return;
    }
    case 0x0F22:
      require_cpl0();
      write_cr(in.opreg(), reg(in.rm, code_bits_ == 64 ? 8 : 4));
      return;
    case 0x0F30: case 0x0F32: {
      require_cpl0();
      const uint32_t msr = static_cast<uint32_t>(r_.gpr[kRcx]);
      uint64_t* slot = nullptr;
      switch (msr) {
        case kMsrFsBase: slot = &r_.seg[kFs].base; break;
        case kMsrGsBase: slot = &r_.seg[kGs].base; break;
        case kMsrKernelGsBase: slot = &r_.kernel_gs_base; break;
        case kMsrEfer: break;
        default: throw GuestFault{13, true, 0};
      }
      if (op == 0x0F32) {
        uint64_t v = slot ? *slot : r_.efer;
        set_reg(kRax, 4, v & 0xFFFFFFFF);
        set_reg(kRdx, 4, v >> 32);
        return;
      }
      const uint64_t v = (r_.gpr[kRdx] << 32) | (r_.gpr[kRax] & 0xFFFFFFFF);
      if (slot) {
        if (static_cast<uint64_t>(static_cast<int64_t>(v << 16) >> 16) != v) throw GuestFault{13, true, 0};
        *slot = v;
        return;
      }
      if (v & ~(kEferSce | kEferLme | kEferLma | kEferNxe)) throw GuestFault{13, true, 0};
      if ((r_.cr0 & kCr0Pg) && ((v ^ r_.efer) & kEferLme)) throw GuestFault{13, true, 0};
      r_.efer = (v & ~kEferLma) | (r_.efer & kEferLma);
      flush_tlb();
      return;
    }
    case 0x0F31: {
      const uint64_t tsc = __rdtsc();
      set_reg(kRax, 4, tsc & 0xFFFFFFFF);
      set_reg(kRdx, 4, tsc >> 32);
      return;
    }
    case 0x0FA2: {
      const uint32_t leaf = static_cast<uint32_t>(r_.gpr[kRax]);
      uint32_t a = 0, b = 0, c = 0, d = 0;
      if (leaf == 0) {
        a = 1;
        std::memcpy(&b, "kvpc", 4);
        std::memcpy(&d, "EmuC", 4);
        std::memcpy(&c, "PU  ", 4);
      } else if (leaf == 1) {
        a = 0x00000600;                          // family 6, model 0, stepping 0
        b = (index_ << 24) | (1u << 16) | (8u << 8);  // APIC id, 1 logical CPU, clflush 64 B
        // EDX: PSE, TSC, MSR, PAE, PGE, CMOV. No FPU/SSE: the interpreter has none.
        d = (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 13) | (1u << 15);
      } else if (leaf == 0x80000000) {
        a = 0x80000001;
      } else if (leaf == 0x80000001) {
        d = (1u << 20) | (1u << 26) | (1u << 29);  // NX, 1 GiB pages, long mode
      }
      set_reg(kRax, 4, a);
      set_reg(kRbx, 4, b);
      set_reg(kRcx, 4, c);
      set_reg(kRdx, 4, d);
      return;
    }
    default: throw Unsupported{};
  }
}

}  // namespace kvpc::emu
