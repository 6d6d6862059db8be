#include "vmm/debug/x86_64_registers.h"

#include <cstdint>

#include "vmm/debug/rsp_codec.h"

namespace kvpc::gdb {
namespace {

constexpr std::string_view kTargetXml = R"(<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
  <architecture>i386:x86-64</architecture>
  <feature name="org.gnu.gdb.i386.core">
    <flags id="i386_eflags" size="4">
      <field name="CF" start="0" end="0"/>
      <field name="" start="1" end="1"/>
      <field name="PF" start="2" end="2"/>
      <field name="AF" start="4" end="4"/>
      <field name="ZF" start="6" end="6"/>
      <field name="SF" start="7" end="7"/>
      <field name="TF" start="8" end="8"/>
      <field name="IF" start="9" end="9"/>
      <field name="DF" start="10" end="10"/>
      <field name="OF" start="11" end="11"/>
      <field name="NT" start="14" end="14"/>
      <field name="RF" start="16" end="16"/>
      <field name="VM" start="17" end="17"/>
      <field name="AC" start="18" end="18"/>
      <field name="VIF" start="19" end="19"/>
      <field name="VIP" start="20" end="20"/>
      <field name="ID" start="21" end="21"/>
    </flags>
    <reg name="rax" bitsize="64" type="int64" regnum="0"/>
    <reg name="rbx" bitsize="64" type="int64"/>
    <reg name="rcx" bitsize="64" type="int64"/>
    <reg name="rdx" bitsize="64" type="int64"/>
    <reg name="rsi" bitsize="64" type="int64"/>
    <reg name="rdi" bitsize="64" type="int64"/>
    <reg name="rbp" bitsize="64" type="data_ptr"/>
    <reg name="rsp" bitsize="64" type="data_ptr"/>
    <reg name="r8" bitsize="64" type="int64"/>
    <reg name="r9" bitsize="64" type="int64"/>
    <reg name="r10" bitsize="64" type="int64"/>
    <reg name="r11" bitsize="64" type="int64"/>
    <reg name="r12" bitsize="64" type="int64"/>
    <reg name="r13" bitsize="64" type="int64"/>
    <reg name="r14" bitsize="64" type="int64"/>
    <reg name="r15" bitsize="64" type="int64"/>
    <reg name="rip" bitsize="64" type="code_ptr"/>
    <reg name="eflags" bitsize="32" type="i386_eflags"/>
    <reg name="cs" bitsize="32" type="int32"/>
    <reg name="ss" bitsize="32" type="int32"/>
    <reg name="ds" bitsize="32" type="int32"/>
    <reg name="es" bitsize="32" type="int32"/>
    <reg name="fs" bitsize="32" type="int32"/>
    <reg name="gs" bitsize="32" type="int32"/>
    <reg name="st0" bitsize="80" type="i387_ext"/>
    <reg name="st1" bitsize="80" type="i387_ext"/>
    <reg name="st2" bitsize="80" type="i387_ext"/>
    <reg name="st3" bitsize="80" type="i387_ext"/>
    <reg name="st4" bitsize="80" type="i387_ext"/>
    <reg name="st5" bitsize="80" type="i387_ext"/>
    <reg name="st6" bitsize="80" type="i387_ext"/>
    <reg name="st7" bitsize="80" type="i387_ext"/>
    <reg name="fctrl" bitsize="32" type="int" group="float"/>
    <reg name="fstat" bitsize="32" type="int" group="float"/>
    <reg name="ftag" bitsize="32" type="int" group="float"/>
    <reg name="fiseg" bitsize="32" type="int" group="float"/>
    <reg name="fioff" bitsize="32" type="int" group="float"/>
    <reg name="foseg" bitsize="32" type="int" group="float"/>
    <reg name="fooff" bitsize="32" type="int" group="float"/>
    <reg name="fop" bitsize="32" type="int" group="float"/>
  </feature>
  <feature name="org.gnu.gdb.i386.segments">
    <reg name="fs_base" bitsize="64" type="int"/>
    <reg name="gs_base" bitsize="64" type="int"/>
  </feature>
  <feature name="org.kvpc.gdb.i386.control">
    <reg name="cr0" bitsize="64" type="int" group="system"/>
    <reg name="cr2" bitsize="64" type="int" group="system"/>
    <reg name="cr3" bitsize="64" type="int" group="system"/>
    <reg name="cr4" bitsize="64" type="int" group="system"/>
    <reg name="efer" bitsize="64" type="int" group="system"/>
  </feature>
</target>
)";

// Width in bytes of register `n` (the x87 data registers are 10).
int register_bytes(int n) {
  if (n < 17) return 8;
  if (n < 24) return 4;
  if (n < 32) return 10;
  if (n < 40) return 4;
  return 8;
}

// The 64-bit field behind a register, or nullptr for those that are not one (x87, selectors).
__u64* field(X86State& s, int n) {
  kvm_regs& r = s.regs;
  switch (n) {
    case 0: return &r.rax;
    case 1: return &r.rbx;
    case 2: return &r.rcx;
    case 3: return &r.rdx;
    case 4: return &r.rsi;
    case 5: return &r.rdi;
    case 6: return &r.rbp;
    case 7: return &r.rsp;
    case 8: return &r.r8;
    case 9: return &r.r9;
    case 10: return &r.r10;
    case 11: return &r.r11;
    case 12: return &r.r12;
    case 13: return &r.r13;
    case 14: return &r.r14;
    case 15: return &r.r15;
    case 16: return &r.rip;
    case 17: return &r.rflags;
    case 40: return &s.sregs.fs.base;
    case 41: return &s.sregs.gs.base;
    case 42: return &s.sregs.cr0;
    case 43: return &s.sregs.cr2;
    case 44: return &s.sregs.cr3;
    case 45: return &s.sregs.cr4;
    case 46: return &s.sregs.efer;
    default: return nullptr;
  }
}

kvm_segment* segment(X86State& s, int n) {
  switch (n) {
    case 18: return &s.sregs.cs;
    case 19: return &s.sregs.ss;
    case 20: return &s.sregs.ds;
    case 21: return &s.sregs.es;
    case 22: return &s.sregs.fs;
    case 23: return &s.sregs.gs;
    default: return nullptr;
  }
}

uint64_t read_value(const X86State& state, int n) {
  X86State& s = const_cast<X86State&>(state);  // field() is shared by reads and writes
  if (__u64* f = field(s, n)) return *f;
  if (kvm_segment* seg = segment(s, n)) return seg->selector;
  if (n == 32) return 0x37F;   // fctrl after FNINIT
  if (n == 34) return 0xFFFF;  // ftag: all empty
  return 0;
}

std::string little_endian_hex(uint64_t value, int bytes) {
  uint8_t buf[10] = {};
  for (int i = 0; i < bytes && i < 8; ++i) buf[i] = static_cast<uint8_t>(value >> (8 * i));
  return to_hex(std::span<const uint8_t>(buf, static_cast<size_t>(bytes)));
}

}  // namespace

std::string_view x86_64_target_xml() { return kTargetXml; }

std::optional<std::string> encode_register(const X86State& state, int number) {
  if (number < 0 || number >= kRegisterCount) return std::nullopt;
  return little_endian_hex(read_value(state, number), register_bytes(number));
}

bool decode_register(X86State& state, int number, std::string_view hex) {
  if (number < 0 || number >= kRegisterCount) return false;
  const int bytes = register_bytes(number);
  if (hex.size() != static_cast<size_t>(bytes) * 2) return false;
  auto raw = parse_hex_bytes(hex);
  if (!raw) return false;
  uint64_t value = 0;
  for (int i = 0; i < bytes && i < 8; ++i) value |= uint64_t{(*raw)[static_cast<size_t>(i)]} << (8 * i);
  if (__u64* f = field(state, number)) {
    if (number == 17) value = (*f & ~0xFFFFFFFFULL) | (value & 0xFFFFFFFFULL);  // eflags is the low half
    *f = value;
  } else if (kvm_segment* seg = segment(state, number)) {
    seg->selector = static_cast<uint16_t>(value);
  }
  // x87: accepted and ignored (see the header).
  return true;
}

std::string encode_all_registers(const X86State& state) {
  std::string out;
  for (int n = 0; n < kRegisterCount; ++n) out += *encode_register(state, n);
  return out;
}

bool decode_all_registers(X86State& state, std::string_view hex) {
  size_t expected = 0;
  for (int n = 0; n < kRegisterCount; ++n) expected += static_cast<size_t>(register_bytes(n)) * 2;
  if (hex.size() != expected) return false;
  if (!parse_hex_bytes(hex)) return false;
  X86State copy = state;
  size_t offset = 0;
  for (int n = 0; n < kRegisterCount; ++n) {
    const size_t len = static_cast<size_t>(register_bytes(n)) * 2;
    if (!decode_register(copy, n, hex.substr(offset, len))) return false;
    offset += len;
  }
  state = copy;
  return true;
}

}  // namespace kvpc::gdb
