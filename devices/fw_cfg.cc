#include "devices/fw_cfg.h"

#include <fmt/format.h>

namespace kvpc {

std::vector<uint8_t> fw_cfg_le(uint64_t value, size_t bytes) {
  std::vector<uint8_t> out(bytes);
  for (size_t i = 0; i < bytes && i < 8; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
  return out;
}

FwCfg::FwCfg() {
  items_[kSignature] = {'Q', 'E', 'M', 'U'};
  items_[kId] = fw_cfg_le(1, 4);  // bit 0: traditional interface; bit 1 (DMA) clear
  rebuild_directory();
}

void FwCfg::add_item(uint16_t key, std::vector<uint8_t> data) {
  std::lock_guard lock(mutex_);
  items_[key] = std::move(data);
}

Status FwCfg::add_file(std::string_view name, std::vector<uint8_t> data) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return make_error(fmt::format("fw_cfg: file name '{}' must be 1..{} bytes", name, kMaxNameLength));
  }
  std::lock_guard lock(mutex_);
  for (const auto& existing : file_names_) {
    if (existing == name) return make_error(fmt::format("fw_cfg: file '{}' added twice", name));
  }
  if (kFirstFile + file_names_.size() >= 0x4000) return make_error("fw_cfg: too many files");
  const auto key = static_cast<uint16_t>(kFirstFile + file_names_.size());
  file_names_.emplace_back(name);
  items_[key] = std::move(data);
  rebuild_directory();
  return ok_status();
}

void FwCfg::rebuild_directory() {
  // Called with mutex_ held (or from the constructor).
  std::vector<uint8_t> dir;
  const auto count = static_cast<uint32_t>(file_names_.size());
  for (int i = 3; i >= 0; --i) dir.push_back(static_cast<uint8_t>(count >> (8 * i)));
  for (size_t i = 0; i < file_names_.size(); ++i) {
    const auto key = static_cast<uint16_t>(kFirstFile + i);
    const auto size = static_cast<uint32_t>(items_[key].size());
    for (int b = 3; b >= 0; --b) dir.push_back(static_cast<uint8_t>(size >> (8 * b)));
    dir.push_back(static_cast<uint8_t>(key >> 8));
    dir.push_back(static_cast<uint8_t>(key));
    dir.push_back(0);
    dir.push_back(0);
    char name[56] = {};
    file_names_[i].copy(name, kMaxNameLength);
    dir.insert(dir.end(), name, name + 56);
  }
  items_[kFileDir] = std::move(dir);
}

std::vector<uint8_t> FwCfg::item(uint16_t key) const {
  std::lock_guard lock(mutex_);
  auto it = items_.find(key);
  return it == items_.end() ? std::vector<uint8_t>{} : it->second;
}

void FwCfg::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (offset == 0) {
    // The selector reads back as written (QEMU returns 0 here; firmware never reads it).
    store_le(data, selected_);
    return;
  }
  // Data port: every byte of a wider access is the next byte of the item, as QEMU's
  // port returns one byte per access; firmware reads it with inb / rep insb.
  auto it = items_.find(selected_);
  for (auto& byte : data) {
    if (it != items_.end() && position_ < it->second.size()) byte = it->second[position_++];
    else byte = 0;
  }
}

void FwCfg::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0) return;  // data-port writes: ignored (no writable items)
  std::lock_guard lock(mutex_);
  // A 16-bit write selects; a byte write selects the zero-extended key.
  selected_ = static_cast<uint16_t>(load_le(data));
  position_ = 0;
}

}  // namespace kvpc
