// The register file kvpc shows gdb, and its target description.
//
// Numbering (gdb's remote register numbers, the order of target.xml):
//   0-15   rax rbx rcx rdx rsi rdi rbp rsp r8-r15      64-bit   org.gnu.gdb.i386.core
//   16     rip, 17 eflags (32-bit), 18-23 cs ss ds es fs gs (32-bit selectors)
//   24-31  st0-st7 (80-bit), 32-39 fctrl fstat ftag fiseg fioff foseg fooff fop
//   40-41  fs_base gs_base                              64-bit   org.gnu.gdb.i386.segments
//   42-46  cr0 cr2 cr3 cr4 efer                         64-bit   org.kvpc.gdb.i386.control
// gdb's amd64 support insists on the x87 registers in the core feature. KVM_GET_FPU is not
// read (neither backend's guests use the FPU in ways worth debugging yet): st0-7 read as
// zero, the control words as after FNINIT, and writes to them are ignored.
// Writing a segment selector changes the selector only, not the hidden base/limit.
#pragma once

#include <linux/kvm.h>

#include <optional>
#include <string>
#include <string_view>

namespace kvpc::gdb {

struct X86State {
  kvm_regs regs{};
  kvm_sregs sregs{};
};

inline constexpr int kRegisterCount = 47;
inline constexpr int kRipRegister = 16;

std::string_view x86_64_target_xml();

// Hex of register `number` in target byte order (little-endian); nullopt if out of range.
std::optional<std::string> encode_register(const X86State& state, int number);
// Writes register `number` from its hex; false if out of range or the hex has the wrong size.
bool decode_register(X86State& state, int number, std::string_view hex);
// The `g` packet: every register in order.
std::string encode_all_registers(const X86State& state);
// The `G` packet; false (state untouched) if the hex is not exactly the `g` layout.
bool decode_all_registers(X86State& state, std::string_view hex);

}  // namespace kvpc::gdb
