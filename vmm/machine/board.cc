#include "vmm/machine/board.h"

#include <chrono>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vmm/observe.h"

namespace kvpc {

namespace {

Result<std::unique_ptr<CharBackend>> open_output(const std::string& spec, const char* what) {
  auto backend = make_char_backend(spec);
  if (!backend) return make_error(fmt::format("--{} {}: {}", what, spec, backend.error().message));
  return std::move(backend).value();
}

// The console font for plane 2. An explicit --vga-font must load, so it is read and decoded
// here and a bad file is an error at start. The default may be missing (a machine without
// console-setup-linux), which leaves plane 2 blank until a VGA BIOS runs; its file is only read
// here, and inflated and parsed when the VGA powers on at its first use (VgaDevice): most
// headless guests never touch the VGA. Decoding then runs on whichever thread touched the VGA
// first (a vCPU, under its seccomp filter): it needs only memory, no system call of its own.
Result<VgaDevice::FontSource> vga_font_source(const MachineConfig& config) {
  if (!config.vga_font.empty()) {
    auto font = vga::load_psf_file(config.vga_font);
    if (!font) return make_error(fmt::format("--vga-font: {}", font.error().message));
    return VgaDevice::FontSource([font = std::move(font).value()] { return std::optional<vga::VgaFont>(font); });
  }
  auto bytes = vga::read_font_file(vga::kDefaultFontPath);
  if (!bytes) {
    spdlog::warn("VGA text will be invisible until a VGA BIOS loads a font: {} (install console-setup-linux)",
                 bytes.error().message);
    return VgaDevice::FontSource();
  }
  return VgaDevice::FontSource([bytes = std::move(bytes).value()]() -> std::optional<vga::VgaFont> {
    auto font = vga::decode_psf(bytes, vga::kDefaultFontPath);
    if (font) return std::move(font).value();
    spdlog::warn("VGA text will be invisible until a VGA BIOS loads a font: {}", font.error().message);
    return std::nullopt;
  });
}

}  // namespace

Status Board::add_device_memory(GuestMemory& memory) {
  auto framebuffer = memory.add_device_region("vga-framebuffer", BoardPorts::kVgaFramebuffer,
                                              VgaDevice::kFramebufferBytes, /*log_dirty=*/true);
  if (!framebuffer) return framebuffer.error();
  return ok_status();
}

Result<std::unique_ptr<Board>> Board::create(const MachineConfig& config, VmBackend& backend,
                                             const GuestMemory& memory, PioBus& pio, MmioBus& mmio,
                                             PowerControl& power, CharBackend* serial_override,
                                             CharBackend* debugcon_override) {
  auto board = std::unique_ptr<Board>(new Board());
  CharBackend* serial = serial_override;
  if (serial == nullptr) {
    auto opened = open_output(config.serial, "serial");
    if (!opened) return opened.error();
    board->serial_backend_ = std::move(opened).value();
    serial = board->serial_backend_.get();
  }
  CharBackend* debugcon = debugcon_override;
  if (debugcon == nullptr) {
    auto opened = open_output(config.debugcon, "debugcon");
    if (!opened) return opened.error();
    board->debugcon_backend_ = std::move(opened).value();
    debugcon = board->debugcon_backend_.get();
  }

  board->com1_irq_ = std::make_unique<GsiIrqLine>(backend, BoardPorts::kCom1Irq);
  board->com1_ = std::make_unique<Uart16550>("com1", *serial, *board->com1_irq_);
  board->debugcon_ = std::make_unique<Debugcon>(*debugcon);
  board->debug_exit_ = std::make_unique<DebugExit>(power);
  board->keyboard_irq_ = std::make_unique<GsiIrqLine>(backend, BoardPorts::kKeyboardIrq);
  board->mouse_irq_ = std::make_unique<GsiIrqLine>(backend, BoardPorts::kMouseIrq);
  board->i8042_ = std::make_unique<I8042>(power, board->keyboard_irq_.get(), board->mouse_irq_.get());
  board->port_a_ = std::make_unique<SystemControlPortA>(power);
  const auto start = std::chrono::steady_clock::now();
  board->post_ = std::make_unique<PostPort>([start] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  });
  board->acpi_pm_ = std::make_unique<AcpiPmControl>(power);

  board->pci_ = std::make_unique<PciHostBridge>();
  // Legacy PC and firmware-facing devices (CMOS/RTC, PIT under emu, fw_cfg, PIIX3, 0x402).
  auto platform = PcPlatform::create(config, backend, memory, pio, *board->pci_, *debugcon);
  if (!platform) return platform.error();
  board->platform_ = std::move(platform).value();
  // PCI functions: BARs follow the guest (PciBarMapper), INTA# the PIIX3 PIRQ routing.
  // Under --bios every function starts as after reset (BARs 0, decoding off) for firmware to
  // assign; direct boot gets kvpc's fixed assignment.
  const bool firmware_assigns_bars = config.bios_path.has_value();
  board->bars_ = std::make_unique<PciBarMapper>(pio, backend);
  board->pci_->set_observer(board->bars_.get());
  board->intx_ = std::make_unique<PciIntxLines>(backend, board->platform_->piix3());
  auto integration_irq = board->intx_->input_for(BoardPorts::kIntegrationSlot);
  if (!integration_irq) return integration_irq.error();
  board->integration_ = std::make_unique<IntegrationDevice>(memory, **integration_irq);
  if (auto status = board->integration_->init(); !status) return status.error();
  auto& integration_config = board->integration_->config();
  if (!firmware_assigns_bars) {
    integration_config.set_interrupt_line(BoardPorts::kIntegrationIrq);
    integration_config.set_bar_address(0, BoardPorts::kIntegrationBar0);
    integration_config.set_command(pci::kCommandIo);
  }
  if (!board->pci_->attach(BoardPorts::kIntegrationSlot, *board->integration_)) {
    return make_error("PCI slot for the integration device is taken");
  }
  // The doorbell as an ioeventfd: a guest write to it costs no exit to userspace. Benchmarks
  // count what that saves by setting KVPC_NO_IOEVENTFD=1 (tests/bench/exits_avoided.sh); the
  // doorbell then exits and BAR0's write handler signals the same eventfd.
  const char* no_ioeventfd = std::getenv("KVPC_NO_IOEVENTFD");
  const bool use_ioeventfd = no_ioeventfd == nullptr || std::string_view(no_ioeventfd) != "1";
  std::vector<PciBarDoorbell> integration_doorbells;
  if (use_ioeventfd) {
    integration_doorbells.push_back(
        {0, IntegrationDevice::doorbell_port_offset(), 4, board->integration_->doorbell_eventfd()});
  }
  if (auto status = board->bars_->manage(*board->integration_, integration_doorbells); !status) {
    return make_error(fmt::format("integration device: {}", status.error().message));
  }
  board->services_ = std::make_unique<HostServices>(*board->integration_);

  // VGA: legacy ports and window, DISPI ports, PCI function with framebuffer and MMIO BARs.
  auto font = vga_font_source(config);
  if (!font) return font.error();
  auto framebuffer = memory.span(BoardPorts::kVgaFramebuffer, VgaDevice::kFramebufferBytes);
  if (!framebuffer) return make_error("VGA framebuffer memory is missing (Board::add_device_memory not called)");
  board->vga_ = std::make_unique<VgaDevice>(*framebuffer, std::move(font).value());
  board->vga_->config().set_bar_address(0, static_cast<uint32_t>(BoardPorts::kVgaFramebuffer));
  board->vga_->config().set_bar_address(2, static_cast<uint32_t>(BoardPorts::kVgaMmio));
  board->vga_->config().set_command(pci::kCommandIo | pci::kCommandMemory);
  if (!board->pci_->attach(BoardPorts::kVgaSlot, *board->vga_)) return make_error("PCI slot for the VGA is taken");
  if (auto status = mmio.add(&board->vga_->legacy_window(), VgaDevice::kLegacyWindow, VgaDevice::kLegacyWindowBytes);
      !status) {
    return make_error(fmt::format("VGA window: {}", status.error().message));
  }
  if (auto status = mmio.add(board->vga_->bar_device(2), BoardPorts::kVgaMmio, VgaDevice::kMmioBarBytes); !status) {
    return make_error(fmt::format("VGA MMIO BAR: {}", status.error().message));
  }

  struct Placement {
    IoDevice* device;
    uint16_t port;
    uint32_t length;
  };
  const Placement placements[] = {
      {board->com1_.get(), BoardPorts::kCom1, static_cast<uint32_t>(Uart16550::kPortCount)},
      {board->debugcon_.get(), BoardPorts::kDebugcon, static_cast<uint32_t>(Debugcon::kPortCount)},
      {board->debug_exit_.get(), BoardPorts::kDebugExit, static_cast<uint32_t>(DebugExit::kPortCount)},
      {&board->i8042_->data_port(), I8042::kDataPort, 1},
      {&board->i8042_->command_port(), I8042::kCommandPort, 1},
      {board->port_a_.get(), BoardPorts::kPortA, static_cast<uint32_t>(SystemControlPortA::kPortCount)},
      {board->post_.get(), BoardPorts::kPost, static_cast<uint32_t>(PostPort::kPortCount)},
      {board->acpi_pm_.get(), BoardPorts::kAcpiPmControl, static_cast<uint32_t>(AcpiPmControl::kPortCount)},
      {board->pci_.get(), PciHostBridge::kBasePort, PciHostBridge::kPortCount},
      {&board->vga_->vga_ports(), vga::kPortBase, vga::kPortCount},
      {&board->vga_->dispi_ports(), vga::dispi::kIndexPort, vga::dispi::kPortCount},
  };
  for (const auto& placement : placements) {
    if (auto status = pio.add(placement.device, placement.port, placement.length); !status) return status.error();
  }
  auto disks = BoardDisks::create(config.disks, memory, *board->pci_, *board->bars_, *board->intx_,
                                  firmware_assigns_bars);
  if (!disks) return disks.error();
  board->disks_ = std::move(disks).value();
  return board;
}

Status Board::start_services(EventLoop& loop) {
  platform_->start();  // PC timers (PIT/RTC interrupts)
  if (auto status = services_->start(loop); !status) return status;
  return disks_->start();
}

void Board::stop_services() {
  services_->stop();
  disks_->stop();
  platform_->stop();
}

size_t Board::serial_input(std::span<const uint8_t> bytes) {
  observe::InputScope recorded(observe::Input::kSerialBytes, bytes);
  const size_t accepted = com1_->receive(bytes);
  if (observe::on(observe::kDevices)) [[unlikely]] observe::device_event(com1_->name(), "rx-input", accepted);
  return accepted;
}

}  // namespace kvpc
static_assert(kvpc::BoardPorts::kIntegrationIrq == kvpc::PciIntxLines::unrouted_gsi(kvpc::BoardPorts::kIntegrationSlot));
