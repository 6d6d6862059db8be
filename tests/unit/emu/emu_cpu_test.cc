// End-to-end tests of the emu accelerator: hand-assembled guest programs run through
// EmuVm/EmuVcpu, with exits checked exactly as the VMM would see them from KVM.
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "vmm/emu/emu_vm.h"
#include "vmm/emu/flags.h"

namespace kvpc {
namespace {

using Bytes = std::vector<uint8_t>;
__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

constexpr uint64_t kCode = 0x100000;
constexpr uint64_t kStack = 0x80000;
constexpr uint64_t kIdt = 0x8000;
constexpr uint64_t kGdt = 0x7000;
constexpr uint64_t kTss = 0x7100;
constexpr uint64_t kMmio = 0xD0000000;  // inside the PCI hole: no RAM there

void append(Bytes& b, std::initializer_list<uint8_t> more) { b.insert(b.end(), more); }
void append32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void append64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A 64 MiB guest with identity-mapped long-mode tables (2 MiB pages over 4 GiB),
// a kvpc64-style GDT and TSS, and an empty IDT at kIdt that tests fill with set_gate().
class Guest {
 public:
  // dirty_logged_gpa != 0: also a 1 MiB device region there with dirty logging (a framebuffer).
  explicit Guest(bool long_mode = true, uint64_t dirty_logged_gpa = 0) : long_mode_(long_mode) {
    auto m = GuestMemory::create_pc(64ULL << 20);
    EXPECT_TRUE(m.ok());
    mem_ = std::move(m.value());
    if (dirty_logged_gpa != 0) {
      EXPECT_TRUE(mem_.add_device_region("fb", dirty_logged_gpa, 1 << 20, true).ok());
    }
    if (long_mode) build_long_mode_tables();
    build_gdt();
    EXPECT_TRUE(vm_.map_memory(mem_).ok());
    auto v = vm_.create_vcpu(0);
    EXPECT_TRUE(v.ok());
    vcpu_ = std::move(v.value());
    emu_ = static_cast<EmuVcpu*>(vcpu_.get());
  }

  void build_long_mode_tables() {
    // Identity map of 0-4 GiB with 2 MiB pages, as the kvpc64 boot protocol lays it out.
    w64(0x1000, 0x2000 | 7);  // PML4[0] -> PDPT
    for (uint64_t d = 0; d < 4; ++d) {
      w64(0x2000 + d * 8, (0x3000 + d * 0x1000) | 7);  // PDPT[d] -> PD d
      for (uint64_t i = 0; i < 512; ++i) w64(0x3000 + d * 0x1000 + i * 8, ((d * 512 + i) << 21) | 0x87);
    }
  }

  void build_gdt() {
    w64(kGdt + 0x00, 0);
    w64(kGdt + 0x08, long_mode_ ? 0x00AF9A000000FFFFULL : 0x00CF9A000000FFFFULL);  // code DPL0
    w64(kGdt + 0x10, 0x00CF92000000FFFFULL);                                      // data DPL0
    w64(kGdt + 0x18, 0x00CFFA000000FFFFULL);                                      // code32 DPL3
    w64(kGdt + 0x20, 0x00CFF2000000FFFFULL);                                      // data DPL3
    w64(kGdt + 0x28, 0x00AFFA000000FFFFULL);                                      // code64 DPL3
    // 0x30: 64-bit TSS at kTss, limit 0x67.
    uint64_t lo = 0x67 | ((kTss & 0xFFFFFF) << 16) | (0x89ULL << 40) | (((kTss >> 24) & 0xFF) << 56);
    w64(kGdt + 0x30, lo);
    w64(kGdt + 0x38, kTss >> 32);
    w64(kTss + 4, 0x70000);  // RSP0
  }

  void w64(uint64_t gpa, uint64_t v) { ASSERT_TRUE(mem_.write_obj(gpa, v)); }
  void w32(uint64_t gpa, uint32_t v) { ASSERT_TRUE(mem_.write_obj(gpa, v)); }
  uint64_t r64(uint64_t gpa) { return mem_.read_obj<uint64_t>(gpa).value_or(~0ULL); }
  uint8_t r8(uint64_t gpa) { return mem_.read_obj<uint8_t>(gpa).value_or(0xEE); }
  void load(const Bytes& code, uint64_t at = kCode) { ASSERT_TRUE(mem_.write(at, code)); }

  void set_gate(uint8_t vec, uint64_t handler, uint8_t ist = 0, uint8_t type = 0xE, uint8_t dpl = 0) {
    if (long_mode_) {
      uint64_t lo = (handler & 0xFFFF) | (0x08ULL << 16) | (uint64_t{ist} << 32) | (uint64_t{type} << 40) |
                    (uint64_t{dpl} << 45) | (1ULL << 47) | (((handler >> 16) & 0xFFFF) << 48);
      w64(kIdt + vec * 16u, lo);
      w64(kIdt + vec * 16u + 8, handler >> 32);
    } else {
      uint64_t lo = (handler & 0xFFFF) | (0x08ULL << 16) | (uint64_t{type} << 40) | (uint64_t{dpl} << 45) |
                    (1ULL << 47) | (((handler >> 16) & 0xFFFF) << 48);
      w64(kIdt + vec * 8u, lo);
    }
  }

  Status start(uint64_t rip = kCode, uint16_t idt_limit = 0xFFF) {
    CpuEntryState s;
    s.mode = long_mode_ ? CpuEntryState::Mode::kLong64 : CpuEntryState::Mode::kProtected32;
    s.rip = rip;
    s.rsp = kStack;
    s.cr3 = 0x1000;
    s.gdt_base = kGdt;
    s.gdt_limit = 0x3F;
    s.idt_base = kIdt;
    s.idt_limit = idt_limit;
    s.tss_base = kTss;
    s.tss_limit = 0x67;
    return vcpu_->set_entry_state(s);
  }

  kvm_run* run() {
    int rc = vcpu_->run();
    EXPECT_EQ(rc, 0);
    return vcpu_->run_state();
  }
  uint8_t* io_data() { return reinterpret_cast<uint8_t*>(vcpu_->run_state()) + vcpu_->run_state()->io.data_offset; }
  uint64_t io_value() {
    uint64_t v = 0;
    std::memcpy(&v, io_data(), vcpu_->run_state()->io.size);
    return v;
  }
  // Runs until the next exit and expects an OUT to `port`; returns its value.
  uint64_t expect_out(uint16_t port) {
    kvm_run* r = run();
    EXPECT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_IO)) << emu_->dump_registers();
    EXPECT_EQ(r->io.direction, KVM_EXIT_IO_OUT);
    EXPECT_EQ(r->io.port, port) << emu_->dump_registers();
    EXPECT_EQ(r->io.count, 1u);
    return io_value();
  }

  emu::CpuRegs& regs() { return emu_->regs(); }

  bool long_mode_;
  GuestMemory mem_;
  EmuVm vm_;
  std::unique_ptr<VcpuBackend> vcpu_;
  EmuVcpu* emu_ = nullptr;
};

// ---------------------------------------------------------------- exits

TEST(EmuCpu, OutExitsWithByteWordDword) {
  Guest g;
  Bytes c;
  append(c, {0xB0, 0x42, 0xE6, 0xE9});  // mov al,0x42 ; out 0xe9,al
  append(c, {0xBA, 0xF8, 0x03, 0, 0});  // mov edx,0x3f8
  append(c, {0xB8});                    // mov eax,0x12345678
  append32(c, 0x12345678);
  append(c, {0x66, 0xEF});  // out dx,ax
  append(c, {0xEF});        // out dx,eax
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  kvm_run* r = g.run();
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_IO));
  EXPECT_EQ(r->io.direction, KVM_EXIT_IO_OUT);
  EXPECT_EQ(r->io.size, 1);
  EXPECT_EQ(r->io.port, 0xE9);
  EXPECT_EQ(r->io.count, 1u);
  EXPECT_EQ(r->io.data_offset, 4096u);
  EXPECT_GE(g.vcpu_->run_size(), r->io.data_offset + 8);
  EXPECT_EQ(g.io_data()[0], 0x42);
  r = g.run();
  EXPECT_EQ(r->io.size, 2);
  EXPECT_EQ(r->io.port, 0x3F8);
  EXPECT_EQ(g.io_value(), 0x5678u);
  r = g.run();
  EXPECT_EQ(r->io.size, 4);
  EXPECT_EQ(g.io_value(), 0x12345678u);
  EXPECT_EQ(g.regs().rip, kCode + c.size());
}

TEST(EmuCpu, InCompletesOnNextRun) {
  Guest g;
  Bytes c;
  append(c, {0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF});  // mov rax,-1
  append(c, {0xE4, 0x60});                                // in al,0x60
  append(c, {0xBA, 0x00, 0x05, 0, 0});                    // mov edx,0x500
  append(c, {0x66, 0xED});                                // in ax,dx
  append(c, {0xED});                                      // in eax,dx
  append(c, {0xE6, 0x80});                                // out 0x80,al
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  kvm_run* r = g.run();
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_IO));
  EXPECT_EQ(r->io.direction, KVM_EXIT_IO_IN);
  EXPECT_EQ(r->io.port, 0x60);
  EXPECT_EQ(r->io.size, 1);
  g.io_data()[0] = 0xAB;
  r = g.run();
  EXPECT_EQ(g.regs().gpr[0], 0xFFFFFFFFFFFFFFABULL);  // AL only
  EXPECT_EQ(r->io.direction, KVM_EXIT_IO_IN);
  EXPECT_EQ(r->io.port, 0x500);
  EXPECT_EQ(r->io.size, 2);
  g.io_data()[0] = 0x34;
  g.io_data()[1] = 0x12;
  r = g.run();
  EXPECT_EQ(g.regs().gpr[0], 0xFFFFFFFFFFFF1234ULL);
  EXPECT_EQ(r->io.size, 4);
  uint32_t v = 0xCAFEF00D;
  std::memcpy(g.io_data(), &v, 4);
  EXPECT_EQ(g.expect_out(0x80), 0x0Du);
  EXPECT_EQ(g.regs().gpr[0], 0xCAFEF00Du);  // 32-bit write zero-extends
}

TEST(EmuCpu, StoresToADirtyLoggedRegionAreReportedPerPageAndTheLogClears) {
  constexpr uint64_t kFramebuffer = 0xE0000000;
  Guest g(true, kFramebuffer);
  Bytes c;
  append(c, {0xB8});  // mov eax, kFramebuffer + 0x3008
  append32(c, static_cast<uint32_t>(kFramebuffer + 0x3008));
  append(c, {0xC7, 0x00});  // mov dword [rax], 0x12345678       -> page 3
  append32(c, 0x12345678);
  append(c, {0xC7, 0x80});  // mov dword [rax + 0x20000], 1       -> page 0x23
  append32(c, 0x20000);
  append32(c, 1);
  append(c, {0xE6, 0x80});  // out 0x80, al
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  g.expect_out(0x80);
  const MemoryRegion* region = g.mem_.region_at(kFramebuffer);
  ASSERT_NE(region, nullptr);
  std::vector<uint64_t> bits(4, ~0ULL);
  ASSERT_TRUE(g.vm_.fetch_dirty_log(*region, bits).ok());
  EXPECT_EQ(bits[0], (1ULL << 3) | (1ULL << 0x23));
  EXPECT_EQ(bits[1], 0u);
  EXPECT_EQ(g.mem_.read_obj<uint32_t>(kFramebuffer + 0x3008), 0x12345678u) << "the store still lands in RAM";
  ASSERT_TRUE(g.vm_.fetch_dirty_log(*region, bits).ok());
  EXPECT_EQ(bits[0], 0u) << "a fetch clears the log";
  const MemoryRegion* ram = g.mem_.region_at(0);
  ASSERT_NE(ram, nullptr);
  EXPECT_FALSE(g.vm_.fetch_dirty_log(*ram, bits).ok()) << "RAM has no dirty log";
}

TEST(EmuCpu, MmioWriteAndReadCompletion) {
  Guest g;
  Bytes c;
  append(c, {0xB8});  // mov eax, kMmio
  append32(c, static_cast<uint32_t>(kMmio));
  append(c, {0xC7, 0x40, 0x10});  // mov dword [rax+0x10], 0x11223344
  append32(c, 0x11223344);
  append(c, {0x48, 0x8B, 0x58, 0x08});  // mov rbx,[rax+8]
  append(c, {0x66, 0x83, 0x40, 0x20, 0x05});  // add word [rax+0x20], 5  (read, then write)
  append(c, {0xE6, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  kvm_run* r = g.run();
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_MMIO));
  EXPECT_EQ(r->mmio.phys_addr, kMmio + 0x10);
  EXPECT_EQ(r->mmio.len, 4u);
  EXPECT_EQ(r->mmio.is_write, 1);
  uint32_t w;
  std::memcpy(&w, r->mmio.data, 4);
  EXPECT_EQ(w, 0x11223344u);
  r = g.run();
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_MMIO));
  EXPECT_EQ(r->mmio.phys_addr, kMmio + 8);
  EXPECT_EQ(r->mmio.len, 8u);
  EXPECT_EQ(r->mmio.is_write, 0);
  uint64_t q = 0x0102030405060708ULL;
  std::memcpy(r->mmio.data, &q, 8);
  r = g.run();
  EXPECT_EQ(g.regs().gpr[3], q);
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_MMIO));
  EXPECT_EQ(r->mmio.is_write, 0);
  EXPECT_EQ(r->mmio.len, 2u);
  r->mmio.data[0] = 0xFE;
  r->mmio.data[1] = 0xFF;
  r = g.run();
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_MMIO));
  EXPECT_EQ(r->mmio.is_write, 1);
  EXPECT_EQ(r->mmio.phys_addr, kMmio + 0x20);
  EXPECT_EQ(r->mmio.data[0], 0x03);  // 0xFFFE + 5 = 0x0003
  EXPECT_EQ(r->mmio.data[1], 0x00);
  EXPECT_TRUE(g.regs().rflags & emu::kCF);
  g.expect_out(0x80);
}

TEST(EmuCpu, UnsupportedInstructionReportsBytes) {
  Guest g;
  Bytes c = {0x90, 0x0F, 0x05, 0xCC, 0xCC};  // nop ; syscall (outside the subset)
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  kvm_run* r = g.run();
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_INTERNAL_ERROR));
  EXPECT_EQ(r->emulation_failure.suberror, static_cast<uint32_t>(KVM_INTERNAL_ERROR_EMULATION));
  EXPECT_EQ(r->emulation_failure.flags, static_cast<uint64_t>(KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES));
  ASSERT_GE(r->emulation_failure.insn_size, 2);
  EXPECT_EQ(r->emulation_failure.insn_bytes[0], 0x0F);
  EXPECT_EQ(r->emulation_failure.insn_bytes[1], 0x05);
  EXPECT_EQ(g.regs().rip, kCode + 1);
}

TEST(EmuCpu, TripleFaultWithoutIdtIsShutdown) {
  Guest g;
  g.load({0x0F, 0x0B});  // ud2
  ASSERT_TRUE(g.start(kCode, 0).ok());
  EXPECT_EQ(g.run()->exit_reason, static_cast<uint32_t>(KVM_EXIT_SHUTDOWN));
}

TEST(EmuCpu, ImmediateExitReturnsEintrAfterCompletingIn) {
  Guest g;
  g.load({0xE4, 0x60, 0xE6, 0x80});  // in al,0x60 ; out 0x80,al
  ASSERT_TRUE(g.start().ok());
  g.vcpu_->run_state()->immediate_exit = 1;
  EXPECT_EQ(g.vcpu_->run(), -EINTR);
  EXPECT_EQ(g.regs().rip, kCode);
  g.vcpu_->run_state()->immediate_exit = 0;
  kvm_run* r = g.run();
  ASSERT_EQ(r->io.direction, KVM_EXIT_IO_IN);
  g.io_data()[0] = 0x5A;
  r->immediate_exit = 1;
  EXPECT_EQ(g.vcpu_->run(), -EINTR);
  EXPECT_EQ(g.regs().gpr[0] & 0xFF, 0x5Au);
  EXPECT_EQ(g.regs().rip, kCode + 2);
  r->immediate_exit = 0;
  EXPECT_EQ(g.expect_out(0x80), 0x5Au);
}

// ---------------------------------------------------------------- exceptions and paging

// Handler stub: mov al, vec ; out 0x90, al ; pop rbx (error code, if any) ; out 0x91, al ; jmp $
Bytes handler_stub(uint8_t vec, bool pop_error) {
  Bytes h = {0xB0, vec, 0xE6, 0x90};
  if (pop_error) append(h, {0x5B});
  append(h, {0x0F, 0x20, 0xD0});  // mov rax, cr2
  append(h, {0xE7, 0x91});        // out 0x91, eax
  append(h, {0xEB, 0xFE});
  return h;
}

TEST(EmuCpu, DivideErrorGoesThroughIdt) {
  Guest g;
  g.set_gate(0, 0x110000);
  g.load(handler_stub(0, false), 0x110000);
  g.load({0x31, 0xC9, 0xF7, 0xF1});  // xor ecx,ecx ; div ecx
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0x90), 0u);
  // Frame: RIP of the faulting div, CS, RFLAGS, RSP, SS.
  EXPECT_EQ(g.r64(kStack - 40), kCode + 2);
  EXPECT_EQ(g.r64(kStack - 32), 0x08u);
  EXPECT_EQ(g.r64(kStack - 16), kStack);
}

TEST(EmuCpu, PageFaultDeliversCr2AndErrorCode) {
  Guest g;
  // Map 0x400000-0x5FFFFF with a 4 KiB page table at 0x4000; page 0x401000 not present,
  // page 0x402000 read-only.
  g.w64(0x3000 + 2 * 8, 0x4000 | 7);
  for (uint64_t i = 0; i < 512; ++i) {
    uint64_t pte = (0x400000 + (i << 12)) | 7;
    if (i == 1) pte = 0;
    if (i == 2) pte &= ~2ULL;
    g.w64(0x4000 + i * 8, pte);
  }
  g.set_gate(14, 0x110000);
  g.load(handler_stub(14, true), 0x110000);
  Bytes c;
  append(c, {0xB8, 0x34, 0x12, 0x40, 0x00});  // mov eax,0x401234
  append(c, {0x89, 0x18});                    // mov [rax],ebx
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0x90), 14u);
  EXPECT_EQ(g.expect_out(0x91), 0x401234u);
  EXPECT_EQ(g.regs().gpr[3], 2u);  // write, not present
  EXPECT_EQ(g.regs().cr2, 0x401234u);

  // Write to the read-only page with CR0.WP set: present|write.
  Guest g2;
  g2.w64(0x3000 + 2 * 8, 0x4000 | 7);
  for (uint64_t i = 0; i < 512; ++i) g2.w64(0x4000 + i * 8, ((0x400000 + (i << 12)) | 7) & ~(i == 2 ? 2ULL : 0));
  g2.set_gate(14, 0x110000);
  g2.load(handler_stub(14, true), 0x110000);
  Bytes c2;
  append(c2, {0xB8, 0x08, 0x20, 0x40, 0x00});  // mov eax,0x402008
  append(c2, {0x8B, 0x08});                    // mov ecx,[rax]   (reads are fine)
  append(c2, {0x89, 0x08});                    // mov [rax],ecx   (#PF)
  g2.load(c2);
  ASSERT_TRUE(g2.start().ok());
  EXPECT_EQ(g2.expect_out(0x90), 14u);
  EXPECT_EQ(g2.expect_out(0x91), 0x402008u);
  EXPECT_EQ(g2.regs().gpr[3], 3u);
  // The accessed bit was set by the successful read.
  EXPECT_TRUE(g2.r64(0x4000 + 2 * 8) & 0x20);
}

TEST(EmuCpu, FaultDeliveringFaultIsDoubleFaultThenShutdown) {
  Guest g;
  // #UD gate not present -> #NP while delivering -> #DF, whose handler runs.
  g.set_gate(8, 0x110000);
  g.load(handler_stub(8, true), 0x110000);
  g.load({0x0F, 0x0B});
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0x90), 8u);
  EXPECT_EQ(g.regs().gpr[3], 0u);  // #DF error code is 0

  Guest g2;  // no #DF gate either: triple fault
  g2.load({0x0F, 0x0B});
  ASSERT_TRUE(g2.start().ok());
  EXPECT_EQ(g2.run()->exit_reason, static_cast<uint32_t>(KVM_EXIT_SHUTDOWN));
}

TEST(EmuCpu, Int3AndIntNAreTrapsWithNextRip) {
  Guest g;
  g.set_gate(3, 0x110000);
  g.set_gate(0x80, 0x110100);
  // Handler 3: out 0x93 ; iretq.  Handler 0x80: out 0x94 ; iretq.
  g.load({0xE6, 0x93, 0x48, 0xCF}, 0x110000);
  g.load({0xE6, 0x94, 0x48, 0xCF}, 0x110100);
  g.load({0xCC, 0xCD, 0x80, 0xE6, 0x80});
  ASSERT_TRUE(g.start().ok());
  g.expect_out(0x93);
  EXPECT_EQ(g.r64(kStack - 40), kCode + 1);
  g.expect_out(0x94);
  EXPECT_EQ(g.r64(kStack - 40), kCode + 3);
  g.expect_out(0x80);
  EXPECT_EQ(g.regs().gpr[4], kStack);
}

TEST(EmuCpu, UserModeRoundTripThroughTssRsp0) {
  Guest g;
  g.set_gate(0x80, 0x110000, 0, 0xE, 3);
  // Kernel: push 0x23 ; push 0x60000 ; push 0x202 ; push 0x2B ; push user ; iretq
  Bytes k;
  append(k, {0x6A, 0x23, 0x68});
  append32(k, 0x60000);
  append(k, {0x68});
  append32(k, 0x202);
  append(k, {0x6A, 0x2B, 0x68});
  append32(k, 0x120000);
  append(k, {0x48, 0xCF});
  g.load(k);
  // User: out 0x95,al (TSS bitmap absent: IOPL 0 at CPL3 => #GP) -- instead use int 0x80.
  g.load({0xCD, 0x80}, 0x120000);
  // Handler: mov rax,[rsp+8] (CS) ; out 0x96,eax ; mov rax,rsp ; out 0x97,eax ; jmp $
  g.load({0x48, 0x8B, 0x44, 0x24, 0x08, 0xE7, 0x96, 0x48, 0x89, 0xE0, 0xE7, 0x97, 0xEB, 0xFE}, 0x110000);
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0x96), 0x2Bu);
  EXPECT_EQ(g.expect_out(0x97), 0x70000u - 40);
  EXPECT_EQ(g.r64(0x70000 - 16), 0x60000u);  // user RSP saved
  EXPECT_EQ(g.r64(0x70000 - 8), 0x23u);
}

TEST(EmuCpu, UserModeIoWithoutPermissionIsGp) {
  Guest g;
  g.set_gate(13, 0x110000);
  g.load(handler_stub(13, true), 0x110000);
  Bytes k;
  append(k, {0x6A, 0x23, 0x68});
  append32(k, 0x60000);
  append(k, {0x6A, 0x02, 0x6A, 0x2B, 0x68});
  append32(k, 0x120000);
  append(k, {0x48, 0xCF});
  g.load(k);
  g.load({0xE6, 0x95}, 0x120000);  // out 0x95, al at CPL3
  ASSERT_TRUE(g.mem_.write_obj<uint16_t>(kTss + 0x66, 0x68));  // bitmap beyond the TSS limit
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0x90), 13u);
}

// ---------------------------------------------------------------- strings

TEST(EmuCpu, RepOutsbExitsOncePerByte) {
  Guest g;
  g.load({'a', 'b', 'c'}, 0x200000);
  Bytes c;
  append(c, {0xBE, 0x00, 0x00, 0x20, 0x00});  // mov esi,0x200000
  append(c, {0xB9, 0x03, 0, 0, 0});           // mov ecx,3
  append(c, {0xBA, 0xE9, 0, 0, 0});           // mov edx,0xe9
  append(c, {0xF3, 0x6E});                    // rep outsb
  append(c, {0xE6, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0xE9), uint64_t{'a'});
  EXPECT_EQ(g.expect_out(0xE9), uint64_t{'b'});
  EXPECT_EQ(g.expect_out(0xE9), uint64_t{'c'});
  g.expect_out(0x80);
  EXPECT_EQ(g.regs().gpr[1], 0u);
  EXPECT_EQ(g.regs().gpr[6], 0x200003u);
}

TEST(EmuCpu, RepInswFillsMemory) {
  Guest g;
  Bytes c;
  append(c, {0xBF, 0x00, 0x00, 0x20, 0x00});  // mov edi,0x200000
  append(c, {0xB9, 0x02, 0, 0, 0});           // mov ecx,2
  append(c, {0xBA, 0xF0, 0x01, 0, 0});        // mov edx,0x1f0
  append(c, {0xF3, 0x66, 0x6D});              // rep insw
  append(c, {0xE6, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  uint64_t remaining = 2;
  for (uint16_t v : {0x1111, 0x2222}) {
    kvm_run* r = g.run();
    ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_IO));
    EXPECT_EQ(r->io.direction, KVM_EXIT_IO_IN);
    EXPECT_EQ(r->io.port, 0x1F0);
    EXPECT_EQ(r->io.size, 2);
    // At the exit the element is not done yet: RCX and RDI still count it, RIP is on the rep.
    EXPECT_EQ(g.regs().gpr[1], remaining);
    EXPECT_EQ(g.regs().gpr[7], 0x200000u + 2 * (2 - remaining));
    EXPECT_EQ(g.regs().rip, kCode + 15);
    --remaining;
    std::memcpy(g.io_data(), &v, 2);
  }
  g.expect_out(0x80);
  EXPECT_EQ(g.r64(0x200000) & 0xFFFFFFFF, 0x22221111u);
  EXPECT_EQ(g.regs().gpr[1], 0u);
  EXPECT_EQ(g.regs().gpr[7], 0x200004u);
}

TEST(EmuCpu, RepMovsStosCmpsScas) {
  Guest g;
  g.load({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0x200000);
  Bytes c;
  append(c, {0xBE, 0x00, 0x00, 0x20, 0x00});  // mov esi,0x200000
  append(c, {0xBF, 0x00, 0x10, 0x20, 0x00});  // mov edi,0x201000
  append(c, {0xB9, 0x0A, 0, 0, 0});           // mov ecx,10
  append(c, {0xF3, 0xA4});                    // rep movsb
  append(c, {0xBF, 0x00, 0x20, 0x20, 0x00});  // mov edi,0x202000
  append(c, {0xB9, 0x03, 0, 0, 0});           // mov ecx,3
  append(c, {0x48, 0xB8});                    // mov rax, imm64
  append64(c, 0xA5A5A5A5A5A5A5A5ULL);
  append(c, {0xF3, 0x48, 0xAB});              // rep stosq
  // repe cmpsb over the copies: equal for 10 bytes -> rcx 0, ZF=1
  append(c, {0xBE, 0x00, 0x00, 0x20, 0x00, 0xBF, 0x00, 0x10, 0x20, 0x00, 0xB9, 0x0A, 0, 0, 0});
  append(c, {0xF3, 0xA6});  // repe cmpsb
  append(c, {0x49, 0x89, 0xC8});  // mov r8, rcx
  // repne scasb for 5 in the source: stops after 5 bytes, rcx = 10 - 5
  append(c, {0xBF, 0x00, 0x00, 0x20, 0x00, 0xB9, 0x0A, 0, 0, 0, 0xB0, 0x05});
  append(c, {0xF2, 0xAE});  // repne scasb
  append(c, {0xE6, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  g.expect_out(0x80);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(g.r8(0x201000 + i), i + 1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.r64(0x202000 + 8 * i), 0xA5A5A5A5A5A5A5A5ULL);
  EXPECT_EQ(g.r64(0x202018), 0u);
  EXPECT_EQ(g.regs().gpr[8], 0u);
  EXPECT_EQ(g.regs().gpr[1], 5u);
  EXPECT_TRUE(g.regs().rflags & emu::kZF);
  EXPECT_EQ(g.regs().gpr[7], 0x200005u);
}

// ---------------------------------------------------------------- PIC, HLT, kick, ioeventfd

// Programs both PICs (vectors 0x20/0x28), unmasks IRQ4 and IRQ10 (and the cascade).
Bytes pic_init() {
  return {0xB0, 0x11, 0xE6, 0x20, 0xB0, 0x20, 0xE6, 0x21, 0xB0, 0x04, 0xE6, 0x21, 0xB0, 0x01, 0xE6, 0x21,
          0xB0, 0x11, 0xE6, 0xA0, 0xB0, 0x28, 0xE6, 0xA1, 0xB0, 0x02, 0xE6, 0xA1, 0xB0, 0x01, 0xE6, 0xA1,
          0xB0, 0xEB, 0xE6, 0x21,   // master IMR: unmask 2 and 4
          0xB0, 0xFB, 0xE6, 0xA1};  // slave IMR: unmask IRQ10
}

TEST(EmuCpu, PicInterruptRunsHandler) {
  Guest g;
  g.set_gate(0x24, 0x110000);
  // Handler: out 0x82,al ; mov al,0x20 ; out 0x20,al (EOI) ; iretq
  g.load({0xE6, 0x82, 0xB0, 0x20, 0xE6, 0x20, 0x48, 0xCF}, 0x110000);
  Bytes c = pic_init();
  append(c, {0xE6, 0x81});  // out 0x81: initialised
  append(c, {0xFB, 0x90});  // sti ; nop
  append(c, {0xE6, 0x83});  // after the interrupt
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  g.expect_out(0x81);  // no PIC port access exited before this
  g.vm_.set_irq(4, true);
  g.vm_.set_irq(4, false);
  g.expect_out(0x82);
  EXPECT_EQ(g.r64(kStack - 40), kCode + pic_init().size() + 2 + 2);  // after "sti; nop" (shadow)
  g.expect_out(0x83);
}

TEST(EmuCpu, SlavePicInterruptAndHltWake) {
  Guest g;
  g.set_gate(0x2A, 0x110000);
  // Handler: out 0x82 ; EOI slave then master ; iretq
  g.load({0xE6, 0x82, 0xB0, 0x20, 0xE6, 0xA0, 0xE6, 0x20, 0x48, 0xCF}, 0x110000);
  Bytes c = pic_init();
  append(c, {0xFB, 0xF4});  // sti ; hlt
  append(c, {0xE6, 0x83});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    g.vm_.set_irq(10, true);
    g.vm_.set_irq(10, false);
  });
  g.expect_out(0x82);
  raiser.join();
  g.expect_out(0x83);
}

TEST(EmuCpu, KickInterruptsHaltAndHaltPersists) {
  Guest g;
  g.load({0xF4, 0xE6, 0x80});  // hlt (IF=0) ; out 0x80
  ASSERT_TRUE(g.start().ok());
  std::thread kicker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    g.vcpu_->kick();
  });
  EXPECT_EQ(g.vcpu_->run(), -EINTR);
  kicker.join();
  EXPECT_EQ(g.regs().rip, kCode + 1);
  g.vcpu_->kick();  // a kick before run() makes that run return at once
  EXPECT_EQ(g.vcpu_->run(), -EINTR);
  EXPECT_EQ(g.regs().rip, kCode + 1);
}

TEST(EmuCpu, KickStopsABusyLoop) {
  Guest g;
  g.load({0xEB, 0xFE});  // jmp $
  ASSERT_TRUE(g.start().ok());
  std::thread kicker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    g.vcpu_->kick();
  });
  EXPECT_EQ(g.vcpu_->run(), -EINTR);
  kicker.join();
}

TEST(EmuCpu, IoEventFdSignalsWithoutExit) {
  Guest g;
  int pfd = eventfd(0, EFD_NONBLOCK);
  int mfd = eventfd(0, EFD_NONBLOCK);
  ASSERT_GE(pfd, 0);
  ASSERT_TRUE(g.vm_.add_ioeventfd(IoSpace::kPort, 0x600, 2, pfd, std::nullopt).ok());
  ASSERT_TRUE(g.vm_.add_ioeventfd(IoSpace::kMmio, kMmio, 4, mfd, uint64_t{7}).ok());
  Bytes c;
  append(c, {0xBA, 0x00, 0x06, 0, 0});  // mov edx,0x600
  append(c, {0x66, 0xEF});              // out dx,ax   -> eventfd
  append(c, {0xB8});
  append32(c, static_cast<uint32_t>(kMmio));
  append(c, {0xC7, 0x00, 7, 0, 0, 0});  // mov dword [rax],7 -> eventfd (datamatch)
  append(c, {0xC7, 0x00, 8, 0, 0, 0});  // mov dword [rax],8 -> exit (no match)
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  kvm_run* r = g.run();
  ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_MMIO));
  EXPECT_EQ(r->mmio.data[0], 8);
  uint64_t n = 0;
  EXPECT_EQ(read(pfd, &n, 8), 8);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(read(mfd, &n, 8), 8);
  EXPECT_EQ(n, 1u);
  close(pfd);
  close(mfd);
}

// ---------------------------------------------------------------- 32-bit protected mode

TEST(EmuCpu, Protected32Program) {
  Guest g(false);
  g.set_gate(6, 0x110000);
  g.load({0xB0, 0x06, 0xE6, 0x90, 0xEB, 0xFE}, 0x110000);
  Bytes c;
  append(c, {0xB8, 0xFF, 0xFF, 0xFF, 0xFF});  // mov eax,0xffffffff
  append(c, {0x40});                          // inc eax  (32-bit: not a REX)
  append(c, {0x9C, 0x5B});                    // pushfd ; pop ebx
  append(c, {0xE8, 0x04, 0, 0, 0});           // call +4 (over "out; ud2")
  append(c, {0xE7, 0x80});                    // out 0x80,eax   (after ret)
  append(c, {0x0F, 0x0B});                    // ud2 -> #UD via 32-bit gate
  append(c, {0xB8, 0x44, 0x33, 0x22, 0x11});  // callee: mov eax,0x11223344
  append(c, {0xC3});                          // ret
  g.load(c, kCode);
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0x80), 0x11223344u);
  EXPECT_TRUE(g.regs().gpr[3] & emu::kZF);
  EXPECT_EQ(g.expect_out(0x90), 6u);
  // 32-bit frame: EIP, CS, EFLAGS
  EXPECT_EQ(g.mem_.read_obj<uint32_t>(kStack - 12).value(), kCode + 15);
  EXPECT_EQ(g.mem_.read_obj<uint32_t>(kStack - 8).value(), 0x08u);
}

TEST(EmuCpu, Protected32EntersLongMode) {
  Guest g(false);
  g.build_long_mode_tables();
  g.w64(kGdt + 0x28, 0x00AF9A000000FFFFULL);  // 64-bit code at 0x28 for the far jump
  Bytes c;
  append(c, {0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x20, 0x0F, 0x22, 0xE0});  // mov eax,cr4 ; or eax,0x20 ; mov cr4,eax
  append(c, {0xB8, 0x00, 0x10, 0, 0, 0x0F, 0x22, 0xD8});              // mov eax,0x1000 ; mov cr3,eax
  append(c, {0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32});              // mov ecx,EFER ; rdmsr
  append(c, {0x0D, 0x00, 0x01, 0, 0, 0x0F, 0x30});                    // or eax,0x100 ; wrmsr
  append(c, {0x0F, 0x20, 0xC0, 0x0D, 0, 0, 0, 0x80, 0x0F, 0x22, 0xC0});  // cr0 |= PG
  append(c, {0xEA});                                                   // jmp 0x28:target
  uint32_t target = static_cast<uint32_t>(kCode + c.size() + 6);
  append32(c, target);
  append(c, {0x28, 0x00});
  append(c, {0x48, 0xB8});  // mov rax, imm64 (only decodes this way in 64-bit mode)
  append64(c, 0x123456789ULL);
  append(c, {0x48, 0xC1, 0xE8, 0x04});  // shr rax,4
  append(c, {0xE7, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  EXPECT_EQ(g.expect_out(0x80), 0x12345678u);
  EXPECT_EQ(g.regs().efer & 0x500, 0x500u);
}

// ---------------------------------------------------------------- misc instructions

TEST(EmuCpu, AssortedInstructions) {
  Guest g;
  Bytes c;
  append(c, {0x48, 0xC7, 0xC3, 0xF0, 0xFF, 0xFF, 0xFF});  // mov rbx,-16
  append(c, {0x48, 0x8D, 0x44, 0x5B, 0x05});              // lea rax,[rbx+rbx*2+5] = -43
  append(c, {0x0F, 0xB6, 0xCB});                          // movzx ecx,bl = 0xF0
  append(c, {0x48, 0x0F, 0xBE, 0xD3});                    // movsx rdx,bl = -16
  append(c, {0x48, 0x85, 0xC0});                          // test rax,rax (SF)
  append(c, {0x4C, 0x0F, 0x48, 0xC1});                    // cmovs r8,rcx
  append(c, {0x41, 0x0F, 0x94, 0xC1});                    // sete r9b (0)
  append(c, {0x48, 0x0F, 0xBC, 0xF1});                    // bsf rsi,rcx = 4
  append(c, {0x48, 0x0F, 0xBD, 0xF9});                    // bsr rdi,rcx = 7
  append(c, {0x41, 0xBA, 0x44, 0x33, 0x22, 0x11});        // mov r10d,0x11223344
  append(c, {0x41, 0x0F, 0xCA});                          // bswap r10d
  append(c, {0x41, 0xBB, 0x05, 0, 0, 0});                 // mov r11d,5
  append(c, {0x4D, 0x0F, 0xC1, 0xDA});                    // xadd r10,r11  (r11 = old r10)
  append(c, {0x49, 0x0F, 0xBA, 0xEC, 0x03});              // bts r12,3
  append(c, {0x6A, 0xFE, 0x41, 0x5D});                    // push -2 ; pop r13
  append(c, {0x48, 0x99});                                // cqo (rax negative -> rdx = -1)
  append(c, {0xE6, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  g.expect_out(0x80);
  auto& r = g.regs();
  EXPECT_EQ(r.gpr[0], static_cast<uint64_t>(-43));
  EXPECT_EQ(r.gpr[1], 0xF0u);
  EXPECT_EQ(r.gpr[2], ~0ULL);
  EXPECT_EQ(r.gpr[8], 0xF0u);
  EXPECT_EQ(r.gpr[9], 0u);
  EXPECT_EQ(r.gpr[6], 4u);
  EXPECT_EQ(r.gpr[7], 7u);
  EXPECT_EQ(r.gpr[10], 0x44332211u + 5);
  EXPECT_EQ(r.gpr[11], 0x44332211u);
  EXPECT_EQ(r.gpr[12], 8u);
  EXPECT_EQ(r.gpr[13], static_cast<uint64_t>(-2));
  EXPECT_EQ(r.gpr[4], kStack);
}

TEST(EmuCpu, CmpxchgAndLoopAndSysRegs) {
  Guest g;
  Bytes c;
  append(c, {0xC7, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x05, 0, 0, 0});  // mov dword [0x200000],5
  append(c, {0xB8, 0x05, 0, 0, 0, 0xBB, 0x09, 0, 0, 0});                  // mov eax,5 ; mov ebx,9
  append(c, {0xF0, 0x0F, 0xB1, 0x1C, 0x25, 0x00, 0x00, 0x20, 0x00});     // lock cmpxchg [0x200000],ebx
  append(c, {0xB9, 0x0A, 0, 0, 0, 0x31, 0xD2});                           // mov ecx,10 ; xor edx,edx
  append(c, {0x01, 0xCA, 0xE2, 0xFC});                                    // l: add edx,ecx ; loop l
  append(c, {0x0F, 0x01, 0x04, 0x25, 0x00, 0x01, 0x20, 0x00});           // sgdt [0x200100]
  append(c, {0x49, 0x89, 0xD0});                                          // mov r8,rdx
  append(c, {0xB8, 0x00, 0x00, 0x00, 0x00, 0x0F, 0xA2});                 // cpuid leaf 0
  append(c, {0xE6, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  g.expect_out(0x80);
  EXPECT_EQ(g.mem_.read_obj<uint32_t>(0x200000).value(), 9u);
  EXPECT_EQ(g.regs().gpr[8], 55u);
  EXPECT_EQ(g.mem_.read_obj<uint16_t>(0x200100).value(), 0x3Fu);
  EXPECT_EQ(g.mem_.read_obj<uint64_t>(0x200102).value(), kGdt);
  char vendor[13] = {};
  std::memcpy(vendor, &g.regs().gpr[3], 4);
  std::memcpy(vendor + 4, &g.regs().gpr[2], 4);
  std::memcpy(vendor + 8, &g.regs().gpr[1], 4);
  EXPECT_STREQ(vendor, "kvpcEmuCPU  ");
}

// ---------------------------------------------------------------- flags, table-driven

// Reference flag computation, written independently of vmm/emu/flags.h.
struct Ref {
  uint64_t value;
  uint64_t flags;
};
uint64_t ref_szp(uint64_t v, int bits) {
  uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
  v &= m;
  uint64_t f = 0;
  if (v == 0) f |= emu::kZF;
  if ((v >> (bits - 1)) & 1) f |= emu::kSF;
  int ones = 0;
  for (int i = 0; i < 8; ++i) ones += (v >> i) & 1;
  if (ones % 2 == 0) f |= emu::kPF;
  return f;
}
Ref ref_add(uint64_t a, uint64_t b, int c, int bits) {
  uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
  a &= m;
  b &= m;
  u128 wide = static_cast<u128>(a) + b + static_cast<unsigned>(c);
  uint64_t r = static_cast<uint64_t>(wide) & m;
  uint64_t f = ref_szp(r, bits);
  if (bits == 64 ? (wide >> 64) != 0 : (static_cast<uint64_t>(wide) >> bits) != 0) f |= emu::kCF;
  bool sa = (a >> (bits - 1)) & 1, sb = (b >> (bits - 1)) & 1, sr = (r >> (bits - 1)) & 1;
  if (sa == sb && sr != sa) f |= emu::kOF;
  if ((a & 0xF) + (b & 0xF) + static_cast<unsigned>(c) > 0xF) f |= emu::kAF;
  return {r, f};
}
Ref ref_sub(uint64_t a, uint64_t b, int c, int bits) {
  uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
  a &= m;
  b &= m;
  uint64_t r = (a - b - static_cast<uint64_t>(c)) & m;
  uint64_t f = ref_szp(r, bits);
  u128 need = static_cast<u128>(b) + static_cast<unsigned>(c);
  if (static_cast<u128>(a) < need) f |= emu::kCF;
  bool sa = (a >> (bits - 1)) & 1, sb = (b >> (bits - 1)) & 1, sr = (r >> (bits - 1)) & 1;
  if (sa != sb && sr != sa) f |= emu::kOF;
  if ((a & 0xF) < (b & 0xF) + static_cast<unsigned>(c)) f |= emu::kAF;
  return {r, f};
}

// Runs "<op> rax/eax/ax/al, rbx/..." (ModRM 0xD8) with given inputs and CF.
struct OpRun {
  uint64_t rax, rflags;
};
OpRun run_op(const Bytes& insn, uint64_t a, uint64_t b, bool cf, uint64_t rcx = 0) {
  static Guest g;  // thousands of cases: reuse one machine, reset by start()
  Bytes c = insn;
  append(c, {0xE6, 0x80});
  g.load(c);
  EXPECT_TRUE(g.start().ok());
  g.regs().gpr[0] = a;
  g.regs().gpr[3] = b;
  g.regs().gpr[1] = rcx;
  g.regs().rflags = 2 | (cf ? emu::kCF : 0);
  g.expect_out(0x80);
  return {g.regs().gpr[0], g.regs().rflags};
}

const uint64_t kValues[] = {0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                            0xFFFFFFFF, 0x7FFFFFFFFFFFFFFFULL, 0x8000000000000000ULL, ~0ULL, 0x0F0F0F0F0F0F0F0FULL,
                            0x123456789ABCDEF0ULL};

Bytes with_size(uint8_t op_even, int bits) {
  // op_even is the byte form (e.g. 0x00 add r/m8,r8); wider forms use op_even+1.
  switch (bits) {
    case 8: return {op_even, 0xD8};
    case 16: return {0x66, static_cast<uint8_t>(op_even + 1), 0xD8};
    case 32: return {static_cast<uint8_t>(op_even + 1), 0xD8};
    default: return {0x48, static_cast<uint8_t>(op_even + 1), 0xD8};
  }
}

TEST(EmuFlags, AddSubAdcSbbCmpAgainstReference) {
  constexpr uint64_t kMask = emu::kArithFlags;
  int checked = 0;
  for (int bits : {8, 16, 32, 64}) {
    const uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
    for (uint64_t a : kValues) {
      for (uint64_t b : kValues) {
        for (int cf : {0, 1}) {
          struct Case {
            uint8_t op;
            Ref ref;
            bool store;
          } cases[] = {
              {0x00, ref_add(a, b, 0, bits), true}, {0x10, ref_add(a, b, cf, bits), true},
              {0x28, ref_sub(a, b, 0, bits), true}, {0x18, ref_sub(a, b, cf, bits), true},
              {0x38, ref_sub(a, b, 0, bits), false},
          };
          for (const auto& k : cases) {
            OpRun r = run_op(with_size(k.op, bits), a, b, cf);
            uint64_t expect_rax = k.store ? ((a & ~m) | k.ref.value) : a;
            if (bits == 32 && k.store) expect_rax = k.ref.value;  // zero-extension
            ASSERT_EQ(r.rax, expect_rax) << "op " << int(k.op) << " bits " << bits << " a " << a << " b " << b;
            ASSERT_EQ(r.rflags & kMask, k.ref.flags)
                << "op " << int(k.op) << " bits " << bits << " a " << a << " b " << b << " cf " << cf;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 5000);
}

TEST(EmuFlags, LogicOpsClearCfOf) {
  for (uint64_t a : kValues) {
    for (uint64_t b : kValues) {
      OpRun r = run_op({0x48, 0x21, 0xD8}, a, b, true);  // and rax,rbx
      EXPECT_EQ(r.rax, a & b);
      EXPECT_EQ(r.rflags & emu::kArithFlags, ref_szp(a & b, 64));
      r = run_op({0x48, 0x09, 0xD8}, a, b, true);  // or
      EXPECT_EQ(r.rflags & emu::kArithFlags, ref_szp(a | b, 64));
      r = run_op({0x31, 0xD8}, a, b, true);  // xor eax,ebx
      EXPECT_EQ(r.rax, (a ^ b) & 0xFFFFFFFF);
      EXPECT_EQ(r.rflags & emu::kArithFlags, ref_szp(a ^ b, 32));
    }
  }
}

TEST(EmuFlags, IncDecNegKeepOrSetCf) {
  for (uint64_t a : kValues) {
    for (int cf : {0, 1}) {
      OpRun r = run_op({0x48, 0xFF, 0xC0}, a, 0, cf);  // inc rax
      Ref ref = ref_add(a, 1, 0, 64);
      EXPECT_EQ(r.rax, ref.value);
      EXPECT_EQ(r.rflags & emu::kArithFlags, (ref.flags & ~emu::kCF) | (cf ? emu::kCF : 0));
      r = run_op({0xFE, 0xC8}, a, 0, cf);  // dec al
      ref = ref_sub(a, 1, 0, 8);
      EXPECT_EQ(r.rax, (a & ~0xFFULL) | ref.value);
      EXPECT_EQ(r.rflags & emu::kArithFlags, (ref.flags & ~emu::kCF) | (cf ? emu::kCF : 0));
      r = run_op({0xF7, 0xD8}, a, 0, cf);  // neg eax
      ref = ref_sub(0, a, 0, 32);
      EXPECT_EQ(r.rax, ref.value);
      EXPECT_EQ(r.rflags & emu::kArithFlags, ref.flags);
    }
  }
}

// Bit-by-bit reference for shifts by CL (count already masked by the caller's choice).
Ref ref_shift(int op, uint64_t v, unsigned count, bool cf_in, int bits) {
  uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
  const uint64_t top = 1ULL << (bits - 1);
  v &= m;
  count &= bits == 64 ? 63 : 31;
  uint64_t flags_in = cf_in ? emu::kCF : 0;
  if (count == 0) return {v, flags_in};
  bool cf = cf_in;
  uint64_t r = v;
  unsigned n = count;
  if (op == 2 || op == 3) n = count % (bits + 1);
  for (unsigned i = 0; i < n; ++i) {
    bool out;
    switch (op) {
      case 0: out = r & top; r = ((r << 1) | (out ? 1 : 0)) & m; cf = out; break;
      case 1: out = r & 1; r = (r >> 1) | (out ? top : 0); cf = out; break;
      case 2: out = r & top; r = ((r << 1) | (cf ? 1 : 0)) & m; cf = out; break;
      case 3: out = r & 1; r = (r >> 1) | (cf ? top : 0); cf = out; break;
      case 4: out = r & top; r = (r << 1) & m; cf = out; break;
      case 5: out = r & 1; r = r >> 1; cf = out; break;
      default: out = r & 1; r = (r >> 1) | (r & top); cf = out; break;
    }
  }
  uint64_t f = 0;
  bool msb = r & top;
  if (op <= 3) {
    f = 0;  // SZAP untouched (test starts them clear)
    if (cf) f |= emu::kCF;
    bool of;
    if (op == 0 || op == 2) of = msb != cf;
    else if (op == 1) of = msb != static_cast<bool>(r & (top >> 1));
    else of = static_cast<bool>(v & top) != cf_in;  // RCR: from the input
    if (of) f |= emu::kOF;
    return {r, f};
  }
  f = ref_szp(r, bits);
  if (cf) f |= emu::kCF;
  if (op == 4 && msb != cf) f |= emu::kOF;
  if (op == 5 && (v & top)) f |= emu::kOF;
  return {r, f};
}

TEST(EmuFlags, ShiftsAndRotatesAgainstReference) {
  for (int bits : {8, 16, 32, 64}) {
    for (int op : {0, 1, 2, 3, 4, 5, 7}) {
      for (uint64_t v : kValues) {
        for (unsigned count : {1u, 2u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 32u, 33u, 63u}) {
          if (bits < 32 && count > static_cast<unsigned>(bits) && op >= 4) continue;  // CF undefined there
          for (int cf : {0, 1}) {
            // <shift> rax/eax/ax/al, cl : D2/D3 /op with ModRM 11 op 000
            uint8_t modrm = static_cast<uint8_t>(0xC0 | (op << 3));
            Bytes insn;
            if (bits == 8) insn = {0xD2, modrm};
            else if (bits == 16) insn = {0x66, 0xD3, modrm};
            else if (bits == 32) insn = {0xD3, modrm};
            else insn = {0x48, 0xD3, modrm};
            OpRun r = run_op(insn, v, 0, cf, count);
            Ref ref = ref_shift(op, v, count, cf, bits);
            uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
            uint64_t masked = count & (bits == 64 ? 63u : 31u);
            uint64_t expect = bits == 32 ? ref.value : ((v & ~m) | ref.value);
            if (bits == 32 && masked == 0) expect = v & 0xFFFFFFFF;
            ASSERT_EQ(r.rax, expect) << "op " << op << " bits " << bits << " v " << v << " count " << count;
            uint64_t got = r.rflags & (op <= 3 ? (emu::kCF | emu::kOF) : (emu::kArithFlags & ~emu::kAF));
            ASSERT_EQ(got, ref.flags) << "op " << op << " bits " << bits << " v " << v << " count " << count
                                      << " cf " << cf;
          }
        }
      }
    }
  }
}

TEST(EmuFlags, MulImulDiv) {
  for (uint64_t a : kValues) {
    for (uint64_t b : kValues) {
      Guest g;
      // mul rbx ; mov r8,rax ; mov r9,rdx ; mov rax,rsi ; imul rax,rbx ; pushfq ; pop r10 ; out
      Bytes c = {0x48, 0xF7, 0xE3, 0x49, 0x89, 0xC0, 0x49, 0x89, 0xD1, 0x9C, 0x41, 0x5B,
                 0x48, 0x89, 0xF0, 0x48, 0x0F, 0xAF, 0xC3, 0x9C, 0x41, 0x5A, 0xE6, 0x80};
      g.load(c);
      ASSERT_TRUE(g.start().ok());
      g.regs().gpr[0] = a;
      g.regs().gpr[3] = b;
      g.regs().gpr[6] = a;
      g.expect_out(0x80);
      u128 p = static_cast<u128>(a) * b;
      EXPECT_EQ(g.regs().gpr[8], static_cast<uint64_t>(p));
      EXPECT_EQ(g.regs().gpr[9], static_cast<uint64_t>(p >> 64));
      bool mul_of = (p >> 64) != 0;
      EXPECT_EQ((g.regs().gpr[11] & emu::kCF) != 0, mul_of);
      EXPECT_EQ((g.regs().gpr[11] & emu::kOF) != 0, mul_of);
      i128 sp = static_cast<i128>(static_cast<int64_t>(a)) * static_cast<int64_t>(b);
      EXPECT_EQ(g.regs().gpr[0], static_cast<uint64_t>(sp));
      bool imul_of = sp != static_cast<int64_t>(sp);
      EXPECT_EQ((g.regs().gpr[10] & emu::kCF) != 0, imul_of);
      EXPECT_EQ((g.regs().gpr[10] & emu::kOF) != 0, imul_of);
    }
  }
  // div/idiv, including #DE on quotient overflow.
  struct D {
    uint64_t hi, lo, divisor;
    bool sign;
  };
  for (D d : {D{0, 100, 7, false}, D{1, 0, 3, false}, D{0, ~0ULL, 0x10, false},
              D{~0ULL, static_cast<uint64_t>(-100), 7, true}, D{0, 100, static_cast<uint64_t>(-7), true},
              D{1, 0, 1, false}, D{~0ULL, 0x8000000000000000ULL, ~0ULL, true}}) {
    Guest g;
    g.set_gate(0, 0x110000);
    g.load({0xB0, 0x00, 0xE6, 0x90, 0xEB, 0xFE}, 0x110000);
    g.load({0x48, 0xF7, static_cast<uint8_t>(d.sign ? 0xFB : 0xF3), 0xE6, 0x80});  // (i)div rbx ; out 0x80
    ASSERT_TRUE(g.start().ok());
    g.regs().gpr[0] = d.lo;
    g.regs().gpr[2] = d.hi;
    g.regs().gpr[3] = d.divisor;
    kvm_run* r = g.run();
    ASSERT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_IO));
    u128 n = (static_cast<u128>(d.hi) << 64) | d.lo;
    bool overflow;
    uint64_t q = 0, rem = 0;
    if (!d.sign) {
      u128 qq = n / d.divisor;
      overflow = (qq >> 64) != 0;
      q = static_cast<uint64_t>(qq);
      rem = static_cast<uint64_t>(n % d.divisor);
    } else {
      i128 sn = static_cast<i128>(n);
      i128 sd = static_cast<int64_t>(d.divisor);
      i128 qq = sn / sd;
      overflow = qq != static_cast<int64_t>(qq);
      q = static_cast<uint64_t>(qq);
      rem = static_cast<uint64_t>(sn % sd);
    }
    if (overflow) {
      EXPECT_EQ(r->io.port, 0x90) << d.hi << ":" << d.lo << "/" << d.divisor;
    } else {
      EXPECT_EQ(r->io.port, 0x80);
      EXPECT_EQ(g.regs().gpr[0], q);
      EXPECT_EQ(g.regs().gpr[2], rem);
    }
  }
}

// ---------------------------------------------------------------- long runs
// The interpreter's speed is measured by the benchmarks (tests/bench, docs/performance.md),
// never asserted here: a bound on a shared CI machine is a flaky test, not a measurement.

TEST(EmuLongRun, AMillionIterationLoopEndsWithTheExactCountAndResult) {
  Guest g;
  // mov ecx,N ; l: add rax,rcx ; dec ecx ; jnz l ; out 0x80,al
  constexpr uint32_t kN = 3000000;
  Bytes c = {0xB9};
  append32(c, kN);
  append(c, {0x48, 0x01, 0xC8, 0xFF, 0xC9, 0x75, 0xF9, 0xE6, 0x80});
  g.load(c);
  ASSERT_TRUE(g.start().ok());
  g.expect_out(0x80);
  EXPECT_EQ(g.emu_->instructions(), 3ull * kN + 2);  // mov, N x (add, dec, jnz), out
  EXPECT_EQ(g.regs().gpr[0], static_cast<uint64_t>(kN) * (kN + 1) / 2);
  EXPECT_EQ(g.regs().gpr[1] & 0xFFFFFFFFu, 0u);
}

}  // namespace
}  // namespace kvpc
