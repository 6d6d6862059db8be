#include "vmm/machine/pci_bar_mapper.h"

#include <cstdio>

#include <fmt/format.h>

namespace kvpc {

namespace {
bool touches_decoding(uint32_t offset, size_t length) {
  const uint64_t end = uint64_t{offset} + length;
  auto overlaps = [&](uint32_t lo, uint32_t hi) { return offset < hi && end > lo; };
  return overlaps(pci::kCommand, pci::kCommand + 2) ||
         overlaps(pci::kBar0, pci::kBar0 + 4 * static_cast<uint32_t>(pci::kBarCount));
}
}  // namespace

Status PciBarMapper::manage(PciDevice& device, std::vector<PciBarDoorbell> doorbells) {
  auto managed = std::make_unique<Managed>();
  managed->device = &device;
  for (int i = 0; i < pci::kBarCount; ++i) {
    const uint32_t size = device.config().bar_size(i);
    if (size == 0) continue;
    uint8_t low = 0;
    device.config().read(pci::kBar0 + 4 * static_cast<uint32_t>(i), std::span(&low, 1));
    if ((low & 0x1) == 0) {
      return make_error(fmt::format("{}: BAR{} is a memory BAR; kvpc relocates only I/O BARs", device.pci_name(), i));
    }
    if (device.bar_device(i) == nullptr) {
      return make_error(fmt::format("{}: BAR{} has no register block", device.pci_name(), i));
    }
    managed->bars.push_back(Bar{i, size, std::nullopt});
  }
  for (const auto& doorbell : doorbells) {
    bool inside = false;
    for (const auto& bar : managed->bars) {
      inside |= bar.index == doorbell.bar && uint64_t{doorbell.offset} + doorbell.length <= bar.size;
    }
    if (!inside) return make_error(fmt::format("{}: doorbell outside BAR{}", device.pci_name(), doorbell.bar));
    managed->doorbells.push_back(Doorbell{doorbell});
  }
  std::lock_guard lock(mutex_);
  devices_.push_back(std::move(managed));
  return sync(*devices_.back());
}

std::optional<uint16_t> PciBarMapper::wanted_base(Managed& managed, const Bar& bar) const {
  PciConfigSpace& config = managed.device->config();
  if ((config.command() & pci::kCommandIo) == 0) return std::nullopt;
  const uint32_t base = config.bar_address(bar.index);
  if (base == 0 || uint64_t{base} + bar.size > PioBus::kPorts) return std::nullopt;
  return static_cast<uint16_t>(base);
}

void PciBarMapper::unmap_bar(Managed& managed, Bar& bar) {
  if (!bar.mapped) return;
  for (auto& doorbell : managed.doorbells) {
    if (doorbell.spec.bar != bar.index || !doorbell.registered) continue;
    // Removed before the port range goes, so no write can signal at an address the device left.
    if (auto status = backend_.remove_ioeventfd(IoSpace::kPort, *bar.mapped + doorbell.spec.offset,
                                                doorbell.spec.length, doorbell.spec.eventfd, std::nullopt);
        !status) {
      warn_once(fmt::format("{}: doorbell ioeventfd not removed ({}); it keeps signalling at the old port",
                            managed.device->pci_name(), status.error().message));
    }
    doorbell.registered = false;
  }
  pio_.unmap(managed.device->bar_device(bar.index), *bar.mapped, bar.size);
  bar.mapped.reset();
}

void PciBarMapper::map_doorbells(Managed& managed, const Bar& bar) {
  for (auto& doorbell : managed.doorbells) {
    if (doorbell.spec.bar != bar.index) continue;
    auto status = backend_.add_ioeventfd(IoSpace::kPort, *bar.mapped + doorbell.spec.offset, doorbell.spec.length,
                                         doorbell.spec.eventfd, std::nullopt);
    doorbell.registered = status.ok();
    if (!status) {
      warn_once(fmt::format("{}: doorbell ioeventfd not added ({}); doorbell writes exit to kvpc instead",
                            managed.device->pci_name(), status.error().message));
    }
  }
}

Status PciBarMapper::sync(Managed& managed) {
  Status result = ok_status();
  for (auto& bar : managed.bars) {
    const auto wanted = wanted_base(managed, bar);
    if (bar.mapped == wanted) {
      bar.pending = false;
      continue;
    }
    unmap_bar(managed, bar);
    bar.pending = false;
    if (!wanted) continue;
    IoDevice* registers = managed.device->bar_device(bar.index);
    if (auto status = pio_.map(registers, *wanted, bar.size); !status) {
      bar.pending = true;  // retried on the next decode change anywhere
      result = status;
      continue;
    }
    bar.mapped = wanted;
    map_doorbells(managed, bar);
  }
  return result;
}

void PciBarMapper::config_written(PciDevice& device, uint32_t offset, size_t length) {
  if (!touches_decoding(offset, length)) return;
  std::lock_guard lock(mutex_);
  // First the device written (it may free ports), then every device with a pending BAR.
  for (auto& managed : devices_) {
    if (managed->device == &device) (void)sync(*managed);
  }
  for (auto& managed : devices_) {
    bool pending = false;
    for (const auto& bar : managed->bars) pending |= bar.pending;
    if (pending) (void)sync(*managed);
  }
}

std::optional<uint16_t> PciBarMapper::mapped_base(const PciDevice& device, int bar) const {
  std::lock_guard lock(mutex_);
  for (const auto& managed : devices_) {
    if (managed->device != &device) continue;
    for (const auto& b : managed->bars) {
      if (b.index == bar) return b.mapped;
    }
  }
  return std::nullopt;
}

uint32_t PciBarMapper::pending_count() const {
  std::lock_guard lock(mutex_);
  uint32_t count = 0;
  for (const auto& managed : devices_) {
    for (const auto& bar : managed->bars) count += bar.pending ? 1 : 0;
  }
  return count;
}

void PciBarMapper::warn_once(const std::string& message) {
  if (warned_) return;
  warned_ = true;
  std::fprintf(stderr, "kvpc: warning: %s\n", message.c_str());
}

}  // namespace kvpc
