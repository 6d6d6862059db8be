#include "vmm/machine/board.h"

#include <chrono>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "vmm/observe.h"

namespace kvpc {

namespace {

Result<std::unique_ptr<CharBackend>> open_output(const std::string& spec, const char* what) {
  auto backend = make_char_backend(spec);
  if (!backend) return make_error(fmt::format("--{} {}: {}", what, spec, backend.error().message));
  return std::move(backend).value();
}

}  // namespace

Result<std::unique_ptr<Board>> Board::create(const MachineConfig& config, VmBackend& backend,
                                             const GuestMemory& memory, PioBus& pio, MmioBus& mmio,
                                             PowerControl& power, CharBackend* serial_override,
                                             CharBackend* debugcon_override) {
  (void)mmio;  // no MMIO devices on the base board yet; the integration device brings BARs
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
  board->i8042_ = std::make_unique<I8042>(power);
  board->port_a_ = std::make_unique<SystemControlPortA>(power);
  const auto start = std::chrono::steady_clock::now();
  board->post_ = std::make_unique<PostPort>([start] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  });
  board->acpi_pm_ = std::make_unique<AcpiPmControl>(power);

  board->pci_ = std::make_unique<PciHostBridge>();
  board->integration_irq_ = std::make_unique<GsiIrqLine>(backend, BoardPorts::kIntegrationIrq);
  board->integration_ = std::make_unique<IntegrationDevice>(memory, *board->integration_irq_);
  if (auto status = board->integration_->init(); !status) return status.error();
  auto& integration_config = board->integration_->config();
  integration_config.set_interrupt_line(BoardPorts::kIntegrationIrq);
  integration_config.set_bar_address(0, BoardPorts::kIntegrationBar0);
  integration_config.set_command(pci::kCommandIo);
  if (!board->pci_->attach(BoardPorts::kIntegrationSlot, *board->integration_)) {
    return make_error("PCI slot for the integration device is taken");
  }
  // The doorbell as an ioeventfd: a guest write to it costs no exit to userspace. Benchmarks
  // count what that saves by setting KVPC_NO_IOEVENTFD=1 (tests/bench/exits_avoided.sh); the
  // doorbell then exits and BAR0's write handler signals the same eventfd.
  const char* no_ioeventfd = std::getenv("KVPC_NO_IOEVENTFD");
  const bool use_ioeventfd = no_ioeventfd == nullptr || std::string_view(no_ioeventfd) != "1";
  if (auto status = !use_ioeventfd ? ok_status()
                                   : backend.add_ioeventfd(IoSpace::kPort,
                                                           BoardPorts::kIntegrationBar0 +
                                                               IntegrationDevice::doorbell_port_offset(),
                                                           4, board->integration_->doorbell_eventfd(), std::nullopt);
      !status) {
    return make_error(fmt::format("integration doorbell: {}", status.error().message));
  }
  board->services_ = std::make_unique<HostServices>(*board->integration_);

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
      {board->integration_->bar_device(0), BoardPorts::kIntegrationBar0, proto::kBar0Size},
  };
  for (const auto& placement : placements) {
    if (auto status = pio.add(placement.device, placement.port, placement.length); !status) return status.error();
  }
  auto disks = BoardDisks::create(config.disks, backend, memory, *board->pci_, pio);
  if (!disks) return disks.error();
  board->disks_ = std::move(disks).value();
  return board;
}

Status Board::start_services(EventLoop& loop) {
  if (auto status = services_->start(loop); !status) return status;
  return disks_->start();
}

void Board::stop_services() {
  services_->stop();
  disks_->stop();
}

size_t Board::serial_input(std::span<const uint8_t> bytes) {
  observe::InputScope recorded(observe::Input::kSerialBytes, bytes);
  const size_t accepted = com1_->receive(bytes);
  if (observe::on(observe::kDevices)) [[unlikely]] observe::device_event(com1_->name(), "rx-input", accepted);
  return accepted;
}

}  // namespace kvpc
