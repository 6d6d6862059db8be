#include "vmm/machine/board_disks.h"

#include <fmt/format.h>

namespace kvpc {

BoardDisks::BoardDisks(VmBackend& backend, uint32_t count) : irq_(backend, kIrq), shared_irq_(irq_, count) {}

BoardDisks::~BoardDisks() { stop(); }

Result<std::unique_ptr<BoardDisks>> BoardDisks::create(const std::vector<DiskConfig>& disks, VmBackend& backend,
                                                       const GuestMemory& memory, PciHostBridge& pci, PioBus& pio) {
  if (disks.size() > kMaxDisks) {
    return make_error(fmt::format("{} disks given; kvpc attaches at most {}", disks.size(), kMaxDisks));
  }
  auto board = std::unique_ptr<BoardDisks>(new BoardDisks(backend, static_cast<uint32_t>(disks.size())));
  for (uint32_t i = 0; i < disks.size(); ++i) {
    const DiskConfig& disk = disks[i];
    auto image = open_block_image(disk.path, disk.format, disk.read_only);
    if (!image) return make_error(fmt::format("--disk {}: {}", disk.path, image.error().message));
    auto device = std::make_unique<VirtioBlk>(memory, board->shared_irq_.input(i), std::move(image).value(),
                                              fmt::format("kvpc-disk{}", i));
    if (auto status = device->init(); !status) return status.error();
    const uint16_t bar0 = static_cast<uint16_t>(kFirstBar0 + kBar0Stride * i);
    auto& config = device->config();
    config.set_interrupt_line(kIrq);
    config.set_bar_address(0, bar0);
    config.set_command(pci::kCommandIo);
    if (!pci.attach(kFirstSlot + static_cast<int>(i), *device)) {
      return make_error(fmt::format("--disk {}: PCI slot {} is taken", disk.path, kFirstSlot + i));
    }
    if (auto status = pio.add(device->bar_device(0), bar0, virtio_blk::kBar0Size); !status) return status.error();
    if (auto status = backend.add_ioeventfd(IoSpace::kPort, bar0 + VirtioBlk::doorbell_offset(),
                                            VirtioBlk::doorbell_length(), device->doorbell_eventfd(), std::nullopt);
        !status) {
      return make_error(fmt::format("--disk {}: doorbell: {}", disk.path, status.error().message));
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
