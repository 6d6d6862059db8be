// Board: the PC's devices and where they sit — the one file that lists every port range,
// MMIO range and IRQ (see docs/architecture.md for the table).
//
// Owns the device objects and registers them on the buses; the Machine owns the buses.
// Host-side inputs (console bytes from stdin) go to the devices through here.
#pragma once

#include <memory>

#include "devices/acpi_pm_control.h"
#include "devices/char_backend.h"
#include "devices/debug_exit.h"
#include "devices/debugcon.h"
#include "devices/i8042.h"
#include "devices/pci_host_bridge.h"
#include "devices/post_port.h"
#include "devices/system_control_port_a.h"
#include "devices/uart16550.h"
#include "devices/vga/vga_device.h"
#include "integration/host_services.h"
#include "integration/integration_device.h"
#include "vmm/machine/board_disks.h"
#include "vmm/event_loop.h"
#include "vmm/guest_memory.h"
#include "vmm/machine/machine_config.h"
#include "vmm/machine/pc_platform.h"
#include "vmm/machine/pci_bar_mapper.h"
#include "vmm/machine/pci_intx_lines.h"
#include "vmm/mmio_bus.h"
#include "vmm/pio_bus.h"
#include "vmm/power_control.h"
#include "vmm/vm_backend.h"

namespace kvpc {

struct BoardPorts {
  static constexpr uint16_t kCom1 = 0x3F8;
  static constexpr uint32_t kCom1Irq = 4;
  static constexpr uint32_t kKeyboardIrq = 1;  // i8042 keyboard
  static constexpr uint32_t kMouseIrq = 12;    // i8042 aux port (PS/2 mouse)
  static constexpr uint16_t kDebugcon = 0xE9;
  static constexpr uint16_t kDebugExit = 0x501;
  static constexpr uint16_t kPost = 0x80;
  static constexpr uint16_t kPortA = 0x92;
  static constexpr uint16_t kAcpiPmControl = 0x604;
  // The integration device: PCI 00:02.0, BAR0 (I/O) fixed here in direct boot (no BIOS
  // assigns it; under --bios firmware does), INTA# on PIIX3 PIRQB (PciIntxLines swizzle):
  // GSI 10 in direct boot, the IRQ firmware routes PIRQB to under --bios (SeaBIOS: 10).
  static constexpr int kIntegrationSlot = 2;
  static constexpr uint16_t kIntegrationBar0 = 0xC000;
  static constexpr uint32_t kIntegrationIrq = 10;
  // The VGA (PCI 00:03.0, 1234:1111): framebuffer BAR0 and register BAR2 at fixed addresses
  // in the PCI MMIO window (kvpc does not follow a guest moving BARs; docs/display.md).
  static constexpr int kVgaSlot = 3;
  static constexpr uint64_t kVgaFramebuffer = 0xFD000000;
  static constexpr uint64_t kVgaMmio = 0xFEBFF000;
};

class Board {
 public:
  struct Outputs {
    CharBackend* serial;    // not owned when given by hooks
    CharBackend* debugcon;
  };

  // Builds every device and registers it on the buses. `owned_outputs` keeps backends the
  // board opened itself (from the config strings) alive.
  static Result<std::unique_ptr<Board>> create(const MachineConfig& config, VmBackend& backend,
                                               const GuestMemory& memory, PioBus& pio, MmioBus& mmio,
                                               PowerControl& power, CharBackend* serial_override,
                                               CharBackend* debugcon_override);

  // Adds the memory the board's devices keep in guest-physical space (the VGA framebuffer).
  // Called by the Machine before the accelerator maps memory, i.e. before create().
  static Status add_device_memory(GuestMemory& memory);

  // Host services start taking guest messages on `loop` (call once, before the vCPUs run)
  // and stop when the machine stops: operations in flight then end with VM_E_VM_NOT_RUNNING.
  // The disks' worker threads and the PC platform timer (PIT/RTC) start and stop with them.
  Status start_services(EventLoop& loop);
  void stop_services();

  // Console input for COM1 from the host (event loop). Goes through here rather than to
  // com1().receive() directly so `--record-io` records it and `--trace devices` shows it.
  size_t serial_input(std::span<const uint8_t> bytes);

  Uart16550& com1() { return *com1_; }
  PostPort& post() { return *post_; }
  IntegrationDevice& integration() { return *integration_; }
  HostServices& services() { return *services_; }
  BoardDisks& disks() { return *disks_; }
  PcPlatform& platform() { return *platform_; }
  VgaDevice& vga() { return *vga_; }
  I8042& i8042() { return *i8042_; }
  PciBarMapper& pci_bars() { return *bars_; }

 private:
  Board() = default;

  std::unique_ptr<CharBackend> serial_backend_;
  std::unique_ptr<CharBackend> debugcon_backend_;
  std::unique_ptr<GsiIrqLine> com1_irq_;
  std::unique_ptr<Uart16550> com1_;
  std::unique_ptr<Debugcon> debugcon_;
  std::unique_ptr<DebugExit> debug_exit_;
  std::unique_ptr<GsiIrqLine> keyboard_irq_;
  std::unique_ptr<GsiIrqLine> mouse_irq_;
  std::unique_ptr<I8042> i8042_;
  std::unique_ptr<SystemControlPortA> port_a_;
  std::unique_ptr<PostPort> post_;
  std::unique_ptr<AcpiPmControl> acpi_pm_;
  std::unique_ptr<PciHostBridge> pci_;
  std::unique_ptr<PcPlatform> platform_;
  std::unique_ptr<PciBarMapper> bars_;   // keeps BARs on the port bus where the guest puts them
  std::unique_ptr<PciIntxLines> intx_;   // INTA# of every function through PIIX3 PIRQA-D
  std::unique_ptr<IntegrationDevice> integration_;
  std::unique_ptr<HostServices> services_;
  std::unique_ptr<BoardDisks> disks_;  // --disk: virtio-blk functions (board_disks.h)
  std::unique_ptr<VgaDevice> vga_;
};

}  // namespace kvpc
