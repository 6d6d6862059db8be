#include "vmm/machine/board_disks.h"

#include <fmt/format.h>

namespace kvpc {

BoardDisks::~BoardDisks() { stop(); }

Result<std::unique_ptr<BoardDisks>> BoardDisks::create(const std::vector<DiskConfig>& disks, const GuestMemory& memory,
                                                       PciHostBridge& pci, PciBarMapper& bars, PciIntxLines& intx,
                                                       bool firmware_assigns_bars) {
  if (disks.size() > kMaxDisks) {
    return make_error(fmt::format("{} disks given; kvpc attaches at most {}", disks.size(), kMaxDisks));
  }
  auto board = std::unique_ptr<BoardDisks>(new BoardDisks());
  for (uint32_t i = 0; i < disks.size(); ++i) {
    const DiskConfig& disk = disks[i];
    const int slot = kFirstSlot + static_cast<int>(i);
    auto image = open_block_image(disk.path, disk.format, disk.read_only);
    if (!image) return make_error(fmt::format("--disk {}: {}", disk.path, image.error().message));
    auto irq = intx.input_for(slot);
    if (!irq) return irq.error();
    auto device = std::make_unique<VirtioBlk>(memory, **irq, std::move(image).value(), fmt::format("kvpc-disk{}", i));
    if (auto status = device->init(); !status) return status.error();
    auto& config = device->config();
    if (!firmware_assigns_bars) {
      config.set_interrupt_line(static_cast<uint8_t>(PciIntxLines::unrouted_gsi(slot)));
      config.set_bar_address(0, static_cast<uint16_t>(kFirstBar0 + kBar0Stride * i));
      config.set_command(pci::kCommandIo);
    }
    if (!pci.attach(slot, *device)) return make_error(fmt::format("--disk {}: PCI slot {} is taken", disk.path, slot));
    const PciBarDoorbell doorbell{0, VirtioBlk::doorbell_offset(), VirtioBlk::doorbell_length(),
                                  device->doorbell_eventfd()};
    if (auto status = bars.manage(*device, {doorbell}); !status) {
      return make_error(fmt::format("--disk {}: {}", disk.path, status.error().message));
    }
    board->devices_.push_back(std::move(device));
  }
  return board;
}

Status BoardDisks::start() {
  for (auto& device : devices_) {
    if (auto status = device->start(); !status) return status;
  }
  return ok_status();
}

void BoardDisks::stop() {
  for (auto& device : devices_) device->stop();
}

}  // namespace kvpc
