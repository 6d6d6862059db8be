// The interpreter executing a hostile guest's instruction stream: random code in 64-bit long
// mode (kvpc64's host-built tables) or flat 32-bit protected mode, with an IDT whose gates
// lead back into the random code, so faults, interrupts, mode and descriptor changes,
// string instructions and port/MMIO exits all happen. Exits are answered as the VMM would
// (IN and MMIO reads get bytes from the input). Whatever the code does, the interpreter
// must only ever report exits: no crash, no hang, no access outside guest RAM.
//
// Input: byte 0 = mode and options, bytes 1-8 = answers for IN/MMIO reads, the rest is
// code placed at kCode (and repeated to fill the first page, so jumps land in code).
#include <sys/mman.h>

#include <cstring>

#include "tests/fuzz/fuzz_input.h"
#include "vmm/boot/long_mode_tables.h"
#include "vmm/emu/cpu.h"

using namespace kvpc;

namespace {

constexpr uint64_t kRamBytes = 2 << 20;
constexpr uint64_t kIdt = 0xA000;
constexpr uint64_t kCode = 0x10000;
constexpr uint64_t kStack = 0x80000;
constexpr size_t kMaxSteps = 5000;  // per input: deep enough for loops and faults, fast enough to explore
constexpr size_t kMaxCode = 16 * 1024;

void set_gate(GuestMemory& memory, bool long_mode, unsigned vector, uint64_t handler, uint8_t attributes) {
  uint64_t low = (handler & 0xFFFF) | (uint64_t{kLongModeKernelCode} << 16) | (uint64_t{attributes} << 40) |
                 (((handler >> 16) & 0xFFFF) << 48);
  if (long_mode) {
    (void)memory.write_obj(kIdt + vector * 16, low);
    (void)memory.write_obj(kIdt + vector * 16 + 8, handler >> 32);
  } else {
    (void)memory.write_obj(kIdt + vector * 8, low);
  }
}

struct RunArea {
  RunArea() {
    void* p = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    KVPC_FUZZ_CHECK(p != MAP_FAILED);
    run = static_cast<kvm_run*>(p);
  }
  ~RunArea() { munmap(run, 8192); }
  kvm_run* run;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t options = in.u8();
  uint64_t answers = in.u64();
  auto code = in.bytes(kMaxCode);
  if (code.empty()) return 0;
  const bool long_mode = (options & 1) == 0;

  GuestMemory memory;
  KVPC_FUZZ_CHECK(memory.add_region("ram", 0, kRamBytes, false).ok());
  CpuEntryState state;
  if (long_mode) {
    KVPC_FUZZ_CHECK(build_long_mode_tables(memory, kStack, state).ok());
  } else {
    // Flat 32-bit protected mode, as the Multiboot loader starts a kernel; the GDT is the
    // long-mode one with a 32-bit code descriptor in its first slot, so far jumps and
    // segment loads have real descriptors to find.
    KVPC_FUZZ_CHECK(build_long_mode_tables(memory, kStack, state).ok());
    (void)memory.write_obj(kLongModeGdtAddress + kLongModeKernelCode, uint64_t{0x00CF9B000000FFFF});
    state.mode = CpuEntryState::Mode::kProtected32;
  }
  state.rip = kCode;
  state.rsp = kStack;
  state.idt_base = kIdt;
  state.idt_limit = (options & 2) ? 0 : static_cast<uint16_t>((long_mode ? 16 : 8) * 256 - 1);
  // Gates: interrupt or trap, DPL 0 or 3 (software INT from user code), into the code.
  for (unsigned vector = 0; vector < 256; ++vector) {
    uint8_t attributes = static_cast<uint8_t>(0x8E | ((vector & 1) ? 0x01 : 0) | ((options & 4) ? 0x60 : 0));
    set_gate(memory, long_mode, vector, kCode + (vector * 13) % code.size(), attributes);
  }
  std::vector<uint8_t> page(4096);
  for (size_t i = 0; i < page.size(); ++i) page[i] = code[i % code.size()];
  (void)memory.write(kCode, page);
  if (code.size() > page.size()) (void)memory.write(kCode + page.size(), code.subspan(page.size()));

  emu::Machine machine;
  machine.set_memory(&memory);
  RunArea area;
  std::memset(area.run, 0, 8192);
  emu::Cpu cpu(machine, area.run, 0);
  if (!cpu.set_entry_state(state).ok()) return 0;

  uint64_t answer_stream = answers;
  for (size_t step = 0; step < kMaxSteps; ++step) {
    emu::StepResult result = cpu.step();
    if (result == emu::StepResult::kContinue) continue;
    if (result == emu::StepResult::kShutdown) break;
    if (result == emu::StepResult::kHalt) {
      // Wake it with a timer interrupt when it can take one; otherwise it sleeps forever.
      machine.pic().set_irq(0, true);
      machine.pic().set_irq(0, false);
      if (!cpu.interrupt_ready()) break;
      continue;
    }
    kvm_run* run = area.run;
    answer_stream = answer_stream * 6364136223846793005ULL + 1442695040888963407ULL;
    if (run->exit_reason == KVM_EXIT_IO) {
      KVPC_FUZZ_CHECK(run->io.size == 1 || run->io.size == 2 || run->io.size == 4);
      KVPC_FUZZ_CHECK(run->io.data_offset + uint64_t{run->io.size} * run->io.count <= 8192);
      if (run->io.direction == KVM_EXIT_IO_IN) {
        auto* bytes = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
        for (uint32_t i = 0; i < run->io.size * run->io.count; ++i) bytes[i] = static_cast<uint8_t>(answer_stream >> (8 * (i % 8)));
      }
    } else if (run->exit_reason == KVM_EXIT_MMIO) {
      KVPC_FUZZ_CHECK(run->mmio.len >= 1 && run->mmio.len <= 8);
      if (!run->mmio.is_write) std::memcpy(run->mmio.data, &answer_stream, 8);
    } else {
      break;  // internal error (outside the subset) or shutdown: the VMM stops the VM
    }
  }
  (void)cpu.dump();
  return 0;
}
