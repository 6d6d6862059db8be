#include "devices/pci_host_bridge.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvpc {

namespace {
PciIdentity i440fx_identity() {
  PciIdentity id;
  id.vendor_id = 0x8086;
  id.device_id = 0x1237;
  id.revision = 0x02;
  id.class_code = 0x060000;  // bridge / host bridge
  // QEMU's subsystem IDs (Red Hat 1af4:1100, "QEMU virtual machine"): SeaBIOS checks them to
  // decide it runs on QEMU's PC and then uses fw_cfg, QEMU's PCI layout and PIIX3 routing.
  id.subsystem_vendor_id = 0x1AF4;
  id.subsystem_id = 0x1100;
  return id;
}
}  // namespace

PciHostBridge::PciHostBridge() : config_(i440fx_identity()) {
  slots_[0] = this;
  // A host bridge decodes memory and I/O from power-on.
  config_.set_command(pci::kCommandIo | pci::kCommandMemory);
  // i440FX PAM0-PAM6 (0x59-0x5F): read/write enables for the BIOS areas 0xC0000-0xFFFFF.
  // PAM0 has only the 0xF0000 nibble (bits 4-5). kvpc keeps those areas as RAM whatever
  // the PAM bits say (the firmware image is already copied there), so the registers are
  // storage that firmware's make_bios_writable/readonly can program and read back.
  config_.define_register(kPam0, 0x00, 0x30);
  for (uint32_t r = kPam0 + 1; r <= kPam0 + 6; ++r) config_.define_register(r, 0x00, 0x33);
  // SMRAM control (0x72): C_BASE_SEG reads 010 (0xA0000); D_OPEN, D_CLS, D_LCK, G_SMRAME
  // are stored. kvpc has no SMM, so they change nothing else.
  config_.define_register(kSmram, 0x02, 0x78);
}

bool PciHostBridge::attach(int slot, PciDevice& device) {
  if (slot <= 0 || slot >= kSlots || slots_[slot] != nullptr) return false;
  slots_[slot] = &device;
  return true;
}

PciDevice* PciHostBridge::device_at(int slot) const {
  if (slot < 0 || slot >= kSlots) return nullptr;
  return slots_[slot];
}

PciConfigSpace* PciHostBridge::selected() const {
  if ((address_ & kEnableBit) == 0) return nullptr;
  uint32_t bus = (address_ >> 16) & 0xFF;
  uint32_t slot = (address_ >> 11) & 0x1F;
  uint32_t function = (address_ >> 8) & 0x7;
  if (bus != 0 || function != 0 || slots_[slot] == nullptr) return nullptr;
  return &slots_[slot]->config();
}

void PciHostBridge::read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0xFF});
  std::lock_guard lock(mutex_);
  if (offset == 0 && data.size() == 4) {
    store_le(data, address_);
    return;
  }
  if (offset < 4 || offset >= kPortCount) return;
  PciConfigSpace* function = selected();
  if (function == nullptr) return;
  // Bytes that would land past 0xCFF belong to ports nobody claimed: keep them all ones.
  size_t length = std::min<size_t>(data.size(), kPortCount - offset);
  uint32_t reg = (address_ & 0xFC) + static_cast<uint32_t>(offset - 4);
  function->read(reg, data.first(length));
}

void PciHostBridge::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (offset == 0 && data.size() == 4) {
    // Bits 1:0 are reserved (type 0 cycles) and read back as zero.
    address_ = static_cast<uint32_t>(load_le(data)) & ~0x3u;
    return;
  }
  if (offset < 4 || offset >= kPortCount) return;
  PciConfigSpace* function = selected();
  if (function == nullptr) return;
  size_t length = std::min<size_t>(data.size(), kPortCount - offset);
  uint32_t reg = (address_ & 0xFC) + static_cast<uint32_t>(offset - 4);
  function->write(reg, data.first(length));
  if (observer_ != nullptr) observer_->config_written(*slots_[(address_ >> 11) & 0x1F], reg, length);
}


void PciHostBridge::describe(StateWriter& out) {
  {
    std::lock_guard lock(mutex_);
    out.number("config_address", address_);
  }
  out.begin("functions");
  for (int slot = 0; slot < kSlots; ++slot) {
    PciDevice* device = slot == 0 ? this : slots_[static_cast<size_t>(slot)];
    if (device == nullptr) continue;
    PciConfigSpace& config = device->config();
    std::array<uint8_t, pci::kConfigSize> bytes{};
    config.read(0, bytes);
    out.begin(fmt::format("00:{:02x}.0", slot));
    out.text("name", device->pci_name());
    out.number("vendor_id", bytes[0] | (bytes[1] << 8));
    out.number("device_id", bytes[2] | (bytes[3] << 8));
    out.number("command", config.command());
    out.number("interrupt_line", config.interrupt_line());
    out.begin("bars");
    for (int bar = 0; bar < pci::kBarCount; ++bar) {
      if (config.bar_size(bar) == 0) continue;
      out.begin(fmt::format("{}", bar));
      out.number("address", config.bar_address(bar));
      out.number("size", config.bar_size(bar));
      out.end();
    }
    out.end();
    out.bytes("config_space", bytes);
    out.end();
  }
  out.end();
}
}  // namespace kvpc
