#include "vmm/machine/pc_platform.h"

#include "vmm/observe.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vmm/machine/vga_rom.h"
#include "vmm/thread_sandbox.h"

namespace kvpc {

namespace {
constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kFourGiB = 1ULL << 32;
constexpr auto kIdleTick = std::chrono::milliseconds(50);
constexpr uint16_t kCom1Port = 0x3F8;

void append_le(std::vector<uint8_t>& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
}  // namespace

void PirqIrqLine::set_level(bool asserted) {
  std::lock_guard lock(mutex_);
  const int routed = piix3_.pirq_irq(pirq_);
  const uint32_t gsi = routed >= 0 ? static_cast<uint32_t>(routed) : fallback_;
  if (asserted_ && driven_gsi_ != gsi) {  // re-routed while high
    vm_.set_irq(driven_gsi_, false);
    if (observe::any()) [[unlikely]] observe::irq(driven_gsi_, false);
  }
  // A change of the routed line is an interrupt event (trace / record), as for GsiIrqLine.
  const bool changed = asserted != asserted_ || (asserted && gsi != driven_gsi_);
  if (changed && observe::any()) [[unlikely]] observe::irq(gsi, asserted);
  vm_.set_irq(gsi, asserted);
  asserted_ = asserted;
  driven_gsi_ = gsi;
}

void fill_pc_cmos(CmosRtc& rtc, uint64_t ram_bytes, uint32_t cpus) {
  const uint64_t low = std::min(ram_bytes, GuestMemory::kPciHoleStart);
  const uint64_t high = ram_bytes - low;
  rtc.set_ram(0x10, 0x00);  // no floppy drives
  rtc.set_ram(0x12, 0x00);  // no ISA hard disks
  rtc.set_ram(0x14, 0x00);  // equipment: no floppy, no FPU, EGA/VGA display class
  rtc.set_ram(0x15, 0x80);  // base memory: 640 KiB
  rtc.set_ram(0x16, 0x02);
  const uint64_t ext_kib = low > kMiB ? std::min<uint64_t>((low - kMiB) / 1024, 0xFFFF) : 0;
  for (uint8_t r : {0x17, 0x30}) {
    rtc.set_ram(r, static_cast<uint8_t>(ext_kib));
    rtc.set_ram(static_cast<uint8_t>(r + 1), static_cast<uint8_t>(ext_kib >> 8));
  }
  const uint64_t above16 = low > 16 * kMiB ? std::min<uint64_t>((low - 16 * kMiB) >> 16, 0xFFFF) : 0;
  rtc.set_ram(0x34, static_cast<uint8_t>(above16));
  rtc.set_ram(0x35, static_cast<uint8_t>(above16 >> 8));
  const uint64_t above4g = std::min<uint64_t>(high >> 16, 0xFFFFFF);
  rtc.set_ram(0x5B, static_cast<uint8_t>(above4g));
  rtc.set_ram(0x5C, static_cast<uint8_t>(above4g >> 8));
  rtc.set_ram(0x5D, static_cast<uint8_t>(above4g >> 16));
  rtc.set_ram(0x5F, static_cast<uint8_t>(cpus - 1));  // SeaBIOS: CPUs besides the BSP
  // Boot order as QEMU encodes "-boot cad": 0x3D low nibble first device (2 = hard disk),
  // high nibble second (1 = floppy); 0x38 high nibble third (3 = CD), bit 0 = skip the
  // floppy boot-signature check.
  rtc.set_ram(0x3D, 0x12);
  rtc.set_ram(0x38, 0x31);
}

Status fill_fw_cfg(FwCfg& fw, uint64_t ram_bytes, uint32_t cpus) {
  const uint64_t low = std::min(ram_bytes, GuestMemory::kPciHoleStart);
  const uint64_t high = ram_bytes - low;
  fw.add_item(FwCfg::kUuid, std::vector<uint8_t>(16, 0));
  fw.add_item(FwCfg::kRamSize, fw_cfg_le(ram_bytes, 8));
  fw.add_item(FwCfg::kNbCpus, fw_cfg_le(cpus, 2));
  fw.add_item(FwCfg::kMaxCpus, fw_cfg_le(cpus, 2));
  fw.add_item(FwCfg::kBootMenu, fw_cfg_le(0, 2));
  // etc/e820: the RAM ranges (20-byte entries: u64 address, u64 length, u32 type 1 = RAM).
  // Firmware carves its own reservations (EBDA, BIOS area) out of these, as under QEMU.
  std::vector<uint8_t> e820;
  append_le(e820, 0, 8);
  append_le(e820, low, 8);
  append_le(e820, 1, 4);
  if (high) {
    append_le(e820, kFourGiB, 8);
    append_le(e820, high, 8);
    append_le(e820, 1, 4);
  }
  struct File {
    const char* name;
    std::vector<uint8_t> data;
  };
  const File files[] = {
      {"etc/e820", e820},
      {"etc/show-boot-menu", fw_cfg_le(0, 2)},  // no "Press ESC for boot menu" wait
      {"etc/boot-menu-wait", fw_cfg_le(0, 2)},
      // Firmware's screen output (banner, "Booting from ...") goes to COM1: alone when no VGA
      // ROM runs, else as well as to the VGA (SeaBIOS's split mode, docs/firmware.md).
      {"etc/sercon-port", fw_cfg_le(kCom1Port, 2)},
  };
  for (const auto& f : files) {
    if (auto s = fw.add_file(f.name, f.data); !s) return s;
  }
  return ok_status();
}

Result<std::unique_ptr<PcPlatform>> PcPlatform::create(const MachineConfig& config, VmBackend& backend,
                                                       const GuestMemory& memory, PioBus& pio, PciHostBridge& pci,
                                                       CharBackend& debugcon_output) {
  (void)memory;
  auto p = std::unique_ptr<PcPlatform>(new PcPlatform());
  p->rtc_irq_ = std::make_unique<GsiIrqLine>(backend, CmosRtc::kIrq);
  p->rtc_ = std::make_unique<CmosRtc>(*p->rtc_irq_);
  fill_pc_cmos(*p->rtc_, config.ram_bytes, config.cpus);
  p->fw_cfg_ = std::make_unique<FwCfg>();
  if (auto s = fill_fw_cfg(*p->fw_cfg_, config.ram_bytes, config.cpus); !s) return s.error();
  auto vga_rom = load_vga_rom(config);
  if (!vga_rom) return vga_rom.error();
  if (*vga_rom) {
    if (auto s = p->fw_cfg_->add_file(kVgaRomFwCfgName, std::move(**vga_rom)); !s) return s.error();
  }
  p->piix3_ = std::make_unique<Piix3IsaBridge>();
  if (!pci.attach(Piix3IsaBridge::kSlot, *p->piix3_)) return make_error("PCI slot 1 (PIIX3) is taken");
  p->qemu_debugcon_ = std::make_unique<Debugcon>(debugcon_output);

  struct Placement {
    IoDevice* device;
    uint16_t port;
    uint64_t length;
  };
  std::vector<Placement> placements = {
      {p->rtc_.get(), CmosRtc::kBasePort, CmosRtc::kPortCount},
      {p->fw_cfg_.get(), FwCfg::kBasePort, FwCfg::kPortCount},
      {p->qemu_debugcon_.get(), kQemuDebugcon, Debugcon::kPortCount},
  };
  // KVM's in-kernel PIT owns 0x40-0x43 and 0x61 (KVM_CREATE_PIT2 with the dummy speaker).
  if (backend.accelerator() != "kvm") {
    p->pit_irq_ = std::make_unique<GsiIrqLine>(backend, Pit8254::kIrq);
    p->pit_ = std::make_unique<Pit8254>(*p->pit_irq_);
    p->port_b_ = std::make_unique<PortB>(*p->pit_);
    placements.push_back({p->pit_.get(), Pit8254::kBasePort, Pit8254::kPortCount});
    placements.push_back({p->port_b_.get(), PortB::kPort, PortB::kPortCount});
  }
  for (const auto& pl : placements) {
    if (auto s = pio.add(pl.device, pl.port, static_cast<uint32_t>(pl.length)); !s) return s.error();
  }
  return p;
}

PcPlatform::~PcPlatform() { stop(); }

void PcPlatform::start() {
  if (timer_.joinable()) return;
  timer_ = std::thread([this] {
    // The seccomp filter (vmm/thread_sandbox.h) before the first tick of a device the guest
    // programs (PIT, RTC).
    if (auto sandboxed = enter_thread_sandbox(ThreadRole::kHousekeeping, "pc-timer"); !sandboxed) {
      spdlog::error("{}", sandboxed.error().message);
      std::_Exit(2);  // never run guest-programmed timers unfiltered when the filter was asked for
    }
    timer_thread();
  });
}

void PcPlatform::stop() {
  {
    std::lock_guard lock(timer_mutex_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
}

void PcPlatform::timer_thread() {
  std::unique_lock lock(timer_mutex_);
  while (!stopping_) {
    lock.unlock();
    auto wait = std::chrono::nanoseconds(kIdleTick);
    if (pit_) {
      pit_->tick();
      if (uint64_t n = pit_->next_event_ns(); n && std::chrono::nanoseconds(n) < wait) wait = std::chrono::nanoseconds(n);
    }
    rtc_->tick();
    if (uint64_t p = rtc_->periodic_period_ns(); p && std::chrono::nanoseconds(p) < wait) wait = std::chrono::nanoseconds(p);
    lock.lock();
    if (stopping_) break;
    timer_cv_.wait_for(lock, wait);
  }
}

}  // namespace kvpc
