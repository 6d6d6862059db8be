// KVM_SET_GUEST_DEBUG under the emu accelerator: single-step, DR0-DR3/DR7 instruction and
// data breakpoints, int3 interception, and the KVM-shaped debugger register access, on the
// gdb stub's test guest (guest-firmware/tests/gdb_target.asm).
#include <gtest/gtest.h>

#include <cstring>

#include "guest-firmware/blobs.h"
#include "vmm/emu/emu_vm.h"

namespace kvpc {
namespace {

// Addresses in gdb_target (linked at 0x100000; see `nm build/guest-firmware/gdb_target.elf`).
constexpr uint64_t kLoad = 0x100000;
constexpr uint64_t kEntry = 0x100030;
constexpr uint64_t kCallBump = 0x100032;
constexpr uint64_t kBump = 0x10004c;
constexpr uint64_t kAfterCounterRead = 0x100053;  // mov rax, [counter] is 7 bytes
constexpr uint64_t kAfterCounterWrite = 0x10005e;
constexpr uint64_t kCounter = 0x100060;
constexpr uint64_t kDr6Bs = 1ULL << 14;

class EmuDebugTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = GuestMemory::create_pc(16ULL << 20);
    ASSERT_TRUE(m.ok());
    mem_ = std::move(m).value();
    // Identity map of the first 1 GiB with 2 MiB pages.
    w64(0x1000, 0x2000 | 7);
    w64(0x2000, 0x3000 | 7);
    for (uint64_t i = 0; i < 512; ++i) w64(0x3000 + i * 8, (i << 21) | 0x87);
    w64(0x7008, 0x00AF9A000000FFFFULL);
    w64(0x7010, 0x00CF92000000FFFFULL);
    auto blob = firmware::gdb_target();
    ASSERT_TRUE(mem_.write(kLoad, blob));
    ASSERT_TRUE(vm_.map_memory(mem_).ok());
    auto v = vm_.create_vcpu(0);
    ASSERT_TRUE(v.ok());
    vcpu_ = std::move(v).value();
    CpuEntryState s;
    s.mode = CpuEntryState::Mode::kLong64;
    s.rip = kEntry;
    s.rsp = 0x200000;
    s.cr3 = 0x1000;
    s.gdt_base = 0x7000;
    s.gdt_limit = 0x17;
    ASSERT_TRUE(vcpu_->set_entry_state(s).ok());
    ASSERT_EQ(mem_.read_obj<uint8_t>(kBump).value_or(0), 0x48) << "gdb_target's layout changed: update the addresses";
  }
  void w64(uint64_t gpa, uint64_t v) { ASSERT_TRUE(mem_.write_obj(gpa, v)); }
  void debug(uint32_t control, std::initializer_list<uint64_t> dr = {}, uint64_t dr7 = 0) {
    kvm_guest_debug d{};
    d.control = control;
    int i = 0;
    for (uint64_t a : dr) d.arch.debugreg[i++] = a;
    d.arch.debugreg[7] = dr7;
    ASSERT_TRUE(vcpu_->set_guest_debug(d).ok());
  }
  kvm_run* run() {
    EXPECT_EQ(vcpu_->run(), 0);
    return vcpu_->run_state();
  }
  uint64_t rip() {
    kvm_regs r{};
    EXPECT_TRUE(vcpu_->get_regs(r).ok());
    return r.rip;
  }
  uint64_t counter() { return mem_.read_obj<uint64_t>(kCounter).value_or(~0ULL); }

  GuestMemory mem_;
  EmuVm vm_;
  std::unique_ptr<VcpuBackend> vcpu_;
};

TEST_F(EmuDebugTest, SingleStepExitsAfterEachInstructionWithDr6Bs) {
  debug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP);
  kvm_run* r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_DEBUG);
  EXPECT_EQ(r->debug.arch.exception, 1u);
  EXPECT_TRUE(r->debug.arch.dr6 & kDr6Bs);
  EXPECT_EQ(r->debug.arch.pc, kCallBump) << "xor ebx, ebx is two bytes";
  r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_DEBUG);
  EXPECT_EQ(r->debug.arch.pc, kBump) << "the call is one step";
  EXPECT_EQ(rip(), kBump);
}

TEST_F(EmuDebugTest, InstructionBreakpointStopsBeforeAndResumesPastItLikeRf) {
  debug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, {kBump}, 0x1);  // L0, execute, 1 byte
  kvm_run* r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_DEBUG);
  EXPECT_EQ(r->debug.arch.exception, 1u);
  EXPECT_EQ(r->debug.arch.dr6 & 0xF, 1u);
  EXPECT_EQ(r->debug.arch.pc, kBump);
  EXPECT_EQ(counter(), 0u) << "a fault-class breakpoint: bump has not run";
  r = run();  // resumes at the breakpoint without hitting it again
  ASSERT_EQ(r->exit_reason, KVM_EXIT_DEBUG);
  EXPECT_EQ(r->debug.arch.pc, kBump);
  EXPECT_EQ(counter(), 1u) << "the second call";
}

TEST_F(EmuDebugTest, WriteWatchpointTrapsAfterTheStore) {
  // DR1, L1, R/W 01 (write), LEN 10 (8 bytes).
  debug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, {0, kCounter}, (1ULL << 2) | (1ULL << 20) | (2ULL << 22));
  kvm_run* r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_DEBUG);
  EXPECT_EQ(r->debug.arch.dr6 & 0xF, 2u);
  EXPECT_EQ(r->debug.arch.pc, kAfterCounterWrite);
  EXPECT_EQ(counter(), 1u);
}

TEST_F(EmuDebugTest, ReadWriteWatchpointAlsoTrapsOnTheLoad) {
  // DR2, G2, R/W 11, LEN 11 (4 bytes) on the low half of counter.
  debug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, {0, 0, kCounter}, (2ULL << 4) | (3ULL << 24) | (3ULL << 26));
  kvm_run* r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_DEBUG);
  EXPECT_EQ(r->debug.arch.dr6 & 0xF, 4u);
  EXPECT_EQ(r->debug.arch.pc, kAfterCounterRead);
}

TEST_F(EmuDebugTest, Int3IsADebugExitOnlyWithUseSwBp) {
  ASSERT_TRUE(mem_.write_obj<uint8_t>(kBump, 0xCC));
  debug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP);
  kvm_run* r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_DEBUG);
  EXPECT_EQ(r->debug.arch.exception, 3u);
  EXPECT_EQ(r->debug.arch.pc, kBump);
  EXPECT_EQ(rip(), kBump) << "RIP stays on the int3";
  debug(0);  // no debugger: the guest takes #BP itself, and without an IDT that is fatal
  r = run();
  EXPECT_EQ(r->exit_reason, KVM_EXIT_SHUTDOWN);
}

TEST_F(EmuDebugTest, DebuggingOffRunsToTheGuestsExit) {
  debug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP);
  ASSERT_EQ(run()->exit_reason, KVM_EXIT_DEBUG);
  debug(0);
  kvm_run* r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_IO);
  EXPECT_EQ(r->io.port, 0x501);
  EXPECT_EQ(counter(), 5u);
}

TEST_F(EmuDebugTest, RegistersWrittenByTheDebuggerTakeEffect) {
  kvm_regs regs{};
  ASSERT_TRUE(vcpu_->get_regs(regs).ok());
  EXPECT_EQ(regs.rip, kEntry);
  regs.rip = kBump;  // jump straight into bump(): it increments counter and returns
  regs.rsp -= 8;
  ASSERT_TRUE(mem_.write_obj<uint64_t>(regs.rsp, 0x10003f));  // return to after_loop
  ASSERT_TRUE(vcpu_->set_regs(regs).ok());
  kvm_sregs sregs{};
  ASSERT_TRUE(vcpu_->get_sregs(sregs).ok());
  EXPECT_EQ(sregs.cs.selector, 0x08);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.cr3, 0x1000u);
  EXPECT_EQ(sregs.efer & (1 << 10), 1u << 10);
  ASSERT_TRUE(vcpu_->set_sregs(sregs).ok());
  kvm_run* r = run();
  ASSERT_EQ(r->exit_reason, KVM_EXIT_IO);
  EXPECT_EQ(counter(), 1u);
}

TEST_F(EmuDebugTest, FeaturesTheInterpreterLacksAreRefused) {
  kvm_guest_debug d{};
  d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_INJECT_BP;
  EXPECT_FALSE(vcpu_->set_guest_debug(d).ok());
}

}  // namespace
}  // namespace kvpc
