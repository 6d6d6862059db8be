// Real mode and 16-bit code in the emu accelerator: the reset vector, 16-bit ModRM and
// segmentation, 0x66/0x67 prefixes, far call/ret, pusha/popa, segment pushes, int/iret
// through the IVT, and the protected-mode round trip firmware makes (real -> 32-bit flat ->
// 16-bit protected -> real). Guest programs are nasm output; their source is in the comments.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "vmm/emu/emu_vm.h"
#include "vmm/emu/flags.h"

namespace kvpc {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kRomBase = 0xFFFF0000;

// 16 MiB of RAM plus a 64 KiB "flash" at the top of 4 GiB, as --bios lays firmware out.
class RealGuest {
 public:
  RealGuest() {
    auto m = GuestMemory::create_pc(16ULL << 20);
    EXPECT_TRUE(m.ok());
    mem_ = std::move(m.value());
    auto rom = mem_.add_region("rom", kRomBase, 0x10000, true);
    EXPECT_TRUE(rom.ok());
    rom_ = rom.ok() ? rom.value() : std::span<uint8_t>{};
    EXPECT_TRUE(vm_.map_memory(mem_).ok());
    auto v = vm_.create_vcpu(0);
    EXPECT_TRUE(v.ok());
    vcpu_ = std::move(v.value());
    emu_ = static_cast<EmuVcpu*>(vcpu_.get());
  }
  void load(uint64_t gpa, const Bytes& b) { ASSERT_TRUE(mem_.write(gpa, b)); }
  void w16(uint64_t gpa, uint16_t v) { ASSERT_TRUE(mem_.write_obj(gpa, v)); }
  void w32(uint64_t gpa, uint32_t v) { ASSERT_TRUE(mem_.write_obj(gpa, v)); }
  Status reset() {
    CpuEntryState s;  // the firmware loader's reset state
    s.mode = CpuEntryState::Mode::kReal16;
    s.cs_selector = 0xF000;
    s.cs_base = 0xFFFF0000;
    s.rip = 0xFFF0;
    return vcpu_->set_entry_state(s);
  }
  uint64_t expect_out(uint16_t port, int size) {
    EXPECT_EQ(vcpu_->run(), 0);
    kvm_run* r = vcpu_->run_state();
    EXPECT_EQ(r->exit_reason, static_cast<uint32_t>(KVM_EXIT_IO)) << emu_->dump_registers();
    EXPECT_EQ(r->io.direction, KVM_EXIT_IO_OUT);
    EXPECT_EQ(r->io.port, port) << emu_->dump_registers();
    EXPECT_EQ(r->io.size, size) << emu_->dump_registers();
    uint64_t v = 0;
    std::memcpy(&v, reinterpret_cast<uint8_t*>(r) + r->io.data_offset, r->io.size);
    return v;
  }
  emu::CpuRegs& regs() { return emu_->regs(); }

  GuestMemory mem_;
  std::span<uint8_t> rom_;
  EmuVm vm_;
  std::unique_ptr<VcpuBackend> vcpu_;
  EmuVcpu* emu_ = nullptr;
};

// The reset vector's far jump: jmp F000:E000 (EA 00 E0 00 F0) at 0xFFFFFFF0.
void put_reset_jump(RealGuest& g) {
  const uint8_t jmp[] = {0xEA, 0x00, 0xE0, 0x00, 0xF0};
  std::memcpy(g.rom_.data() + 0xFFF0, jmp, sizeof(jmp));
}

TEST(EmuRealMode, ResetStateFetchesFromTheTopOf4GiBThenFarJumpsIntoTheBiosSegment) {
  RealGuest g;
  put_reset_jump(g);
  g.load(0xFE000, {0xB0, 0x11, 0xE6, 0x80});  // mov al,0x11 ; out 0x80,al
  ASSERT_TRUE(g.reset().ok());
  EXPECT_EQ(g.regs().seg[emu::kCs].base, 0xFFFF0000u);
  EXPECT_EQ(g.regs().cr0 & 1, 0u);
  EXPECT_EQ(g.expect_out(0x80, 1), 0x11u);
  EXPECT_EQ(g.regs().seg[emu::kCs].selector, 0xF000);
  EXPECT_EQ(g.regs().seg[emu::kCs].base, 0xF0000u) << "a real-mode far jump loads base = selector << 4";
  EXPECT_EQ(g.regs().rip, 0xE004u);
}

// Program 1 (at F000:E000):
//   bits 16
//   org 0xE000
//   ; at F000:E000 (linear 0xFE000)
//   start:
//     mov ax, 0x2000
//     mov ds, ax
//     mov bx, 0x10
//     mov si, 0x4
//     mov ax, [bx+si+4]      ; DS:0x18 -> linear 0x20018
//     out 0x80, ax
//     mov ax, 0x3000
//     mov ss, ax
//     mov bp, 0x100
//     mov di, 2
//     mov word [bp+di-2], 0xBEEF   ; SS:0x100 -> 0x30100
//     mov ax, [ss:0x100]
//     out 0x80, ax
//     mov ebx, 0x10
//     mov ecx, 2
//     mov eax, [ebx+ecx*4]   ; 67-prefixed: DS:0x18
//     out 0x80, eax
//     mov sp, 0x200
//     push ds
//     pop es
//     mov ax, es
//     out 0x80, ax
//     mov ax, 0x1111
//     mov cx, 0x2222
//     pusha
//     xor ax, ax
//     xor cx, cx
//     popa
//     out 0x80, ax
//     mov ax, cx
//     out 0x80, ax
//     call 0xF000:farfn
//     out 0x80, ax
//     int 0x40
//     out 0x80, ax
//     pushf
//     pop ax
//     out 0x80, ax
//     hlt
//   farfn:
//     mov ax, 0x5A5A
//     retf
// IVT[0x40] -> 0000:0500, where the handler is: pushf ; pop ax ; iret
const Bytes kProgram1 = {
      0xb8, 0x00, 0x20, 0x8e, 0xd8, 0xbb, 0x10, 0x00, 0xbe, 0x04, 0x00, 0x8b, 0x40, 0x04, 0xe7, 0x80,
      0xb8, 0x00, 0x30, 0x8e, 0xd0, 0xbd, 0x00, 0x01, 0xbf, 0x02, 0x00, 0xc7, 0x43, 0xfe, 0xef, 0xbe,
      0x36, 0xa1, 0x00, 0x01, 0xe7, 0x80, 0x66, 0xbb, 0x10, 0x00, 0x00, 0x00, 0x66, 0xb9, 0x02, 0x00,
      0x00, 0x00, 0x66, 0x67, 0x8b, 0x04, 0x8b, 0x66, 0xe7, 0x80, 0xbc, 0x00, 0x02, 0x1e, 0x07, 0x8c,
      0xc0, 0xe7, 0x80, 0xb8, 0x11, 0x11, 0xb9, 0x22, 0x22, 0x60, 0x31, 0xc0, 0x31, 0xc9, 0x61, 0xe7,
      0x80, 0x89, 0xc8, 0xe7, 0x80, 0x9a, 0x65, 0xe0, 0x00, 0xf0, 0xe7, 0x80, 0xcd, 0x40, 0xe7, 0x80,
      0x9c, 0x58, 0xe7, 0x80, 0xf4, 0xb8, 0x5a, 0x5a, 0xcb,
};

TEST(EmuRealMode, SixteenBitAddressingSegmentsPrefixesFarCallsAndIvtInterrupts) {
  RealGuest g;
  put_reset_jump(g);
  g.load(0xFE000, kProgram1);
  g.w16(0x20018, 0xCAFE);       // DS(0x2000):0x18
  g.w16(0x2001A, 0x1234);
  g.w32(0x40 * 4, 0x00000500);  // IVT[0x40] = 0000:0500
  g.load(0x500, {0x9C, 0x58, 0xCF});
  ASSERT_TRUE(g.reset().ok());
  g.regs().rflags |= emu::kIF;
  EXPECT_EQ(g.expect_out(0x80, 2), 0xCAFEu) << "[bx+si+4] with DS base 0x20000";
  EXPECT_EQ(g.expect_out(0x80, 2), 0xBEEFu) << "[bp+di-2] defaults to SS";
  EXPECT_EQ(g.expect_out(0x80, 4), 0x1234CAFEu) << "0x66 0x67: 32-bit operand, [ebx+ecx*4]";
  EXPECT_EQ(g.expect_out(0x80, 2), 0x2000u) << "push ds ; pop es";
  EXPECT_EQ(g.expect_out(0x80, 2), 0x1111u) << "popa restores AX";
  EXPECT_EQ(g.expect_out(0x80, 2), 0x2222u) << "popa restores CX";
  EXPECT_EQ(g.regs().gpr[emu::kRsp] & 0xFFFF, 0x200u) << "pusha/popa balance SP";
  EXPECT_EQ(g.expect_out(0x80, 2), 0x5A5Au) << "call far F000:farfn ; retf";
  const uint64_t handler_flags = g.expect_out(0x80, 2);
  EXPECT_EQ(handler_flags & emu::kIF, 0u) << "int clears IF in the handler";
  EXPECT_EQ(g.expect_out(0x80, 2) & emu::kIF, emu::kIF) << "iret restores IF";
  EXPECT_EQ(g.regs().seg[emu::kCs].selector, 0xF000) << "iret returned to F000";
}

// Program 2 (at F000:E000): real -> 32-bit flat protected -> 16-bit protected -> real.
//   bits 16
//   org 0xE000
//     lgdt [cs:gdtr]
//     mov eax, cr0
//     or al, 1
//     mov cr0, eax
//     jmp dword 0x08:(0xF0000 + pm32)
//   bits 32
//   pm32:
//     mov ax, 0x10
//     mov ds, ax
//     mov ss, ax
//     mov esp, 0x9000
//     push dword 0x32323232
//     pop eax
//     out 0x80, eax
//     jmp 0x18:pm16
//   bits 16
//   pm16:
//     mov ax, 0x20
//     mov ds, ax
//     mov eax, cr0
//     and al, 0xFE
//     mov cr0, eax
//     jmp 0xF000:rm
//   rm:
//     xor ax, ax
//     mov ss, ax
//     mov sp, 0x7000
//     mov ax, 0x1616
//     push ax
//     pop bx
//     out 0x80, ax
//     hlt
//   align 8
//   gdt: dq 0
//     dq 0x00CF9A000000FFFF
//     dq 0x00CF92000000FFFF
//     dq 0x00009A0F0000FFFF
//     dq 0x000092000000FFFF
//   gdtr: dw 0x27
//     dd gdt + 0xF0000
const Bytes kProgram2 = {
      0x2e, 0x0f, 0x01, 0x16, 0x80, 0xe0, 0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0x66, 0xea,
      0x16, 0xe0, 0x0f, 0x00, 0x08, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00,
      0x90, 0x00, 0x00, 0x68, 0x32, 0x32, 0x32, 0x32, 0x58, 0xe7, 0x80, 0xea, 0x32, 0xe0, 0x00, 0x00,
      0x18, 0x00, 0xb8, 0x20, 0x00, 0x8e, 0xd8, 0x0f, 0x20, 0xc0, 0x24, 0xfe, 0x0f, 0x22, 0xc0, 0xea,
      0x44, 0xe0, 0x00, 0xf0, 0x31, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x70, 0xb8, 0x16, 0x16, 0x50, 0x5b,
      0xe7, 0x80, 0xf4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00,
      0xff, 0xff, 0x00, 0x00, 0x0f, 0x9a, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0x00, 0x00,
      0x27, 0x00, 0x58, 0xe0, 0x0f, 0x00,
};

TEST(EmuRealMode, ProtectedModeRoundTripThroughSixteenBitSegments) {
  RealGuest g;
  put_reset_jump(g);
  g.load(0xFE000, kProgram2);
  ASSERT_TRUE(g.reset().ok());
  EXPECT_EQ(g.expect_out(0x80, 4), 0x32323232u) << "32-bit code after lgdt (24-bit base), CR0.PE, jmp far";
  EXPECT_EQ(g.regs().cr0 & 1, 1u);
  EXPECT_EQ(g.regs().gdtr.base, 0xFE058u);
  EXPECT_EQ(g.regs().gdtr.limit, 0x27);
  EXPECT_EQ(g.expect_out(0x80, 2), 0x1616u) << "back in real mode through a 16-bit protected segment";
  EXPECT_EQ(g.regs().cr0 & 1, 0u);
  EXPECT_EQ(g.regs().seg[emu::kCs].base, 0xF0000u);
  EXPECT_FALSE(g.regs().seg[emu::kCs].big);
  EXPECT_EQ(g.regs().gpr[emu::kRbx] & 0xFFFF, 0x1616u) << "16-bit push/pop on the real-mode stack";
  EXPECT_EQ(g.regs().gpr[emu::kRsp] & 0xFFFF, 0x7000u);
}

TEST(EmuRealMode, UnmappedIvtVectorBeyondTheLimitShutsTheCpuDown) {
  RealGuest g;
  put_reset_jump(g);
  g.load(0xFE000, {0xCD, 0x21});  // int 0x21 with IDTR.limit shrunk below it
  ASSERT_TRUE(g.reset().ok());
  g.regs().idtr.limit = 0x10;
  EXPECT_EQ(g.vcpu_->run(), 0);
  EXPECT_EQ(g.vcpu_->run_state()->exit_reason, static_cast<uint32_t>(KVM_EXIT_SHUTDOWN));
}

}  // namespace
}  // namespace kvpc
