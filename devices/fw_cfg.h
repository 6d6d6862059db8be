// FwCfg: QEMU's firmware configuration interface, port I/O flavour ("fw_cfg").
//
// Firmware built for QEMU (SeaBIOS, OVMF) reads the machine's description through it:
// writing a 16-bit key to the selector port (0x510) selects an item and rewinds it; each byte
// read from the data port (0x511) returns the next byte of the item, and 0 past its end or
// for an item that does not exist, as QEMU does. Items are numbered; key 0x0019 is the file
// directory (big-endian count, then 64-byte entries: size BE32, select BE16, reserved, a
// NUL-padded 56-byte name) that names the items from 0x0020 on. Writes to the data port are
// ignored (QEMU >= 2.4 does the same); the DMA interface (0x514) is not offered: the ID item
// says "traditional interface only", so firmware falls back to the data port.
// The board fills the items (see docs/firmware.md for the list kvpc provides).
//
// Concurrency contract: add_item/add_file are set-up only (before vCPUs run). read()/write()
// take a mutex: the selected key and the read offset are one machine-wide state, as in QEMU.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/io_device.h"
#include "vmm/result.h"

namespace kvpc {

class FwCfg final : public IoDevice {
 public:
  static constexpr uint16_t kBasePort = 0x510;
  static constexpr uint64_t kPortCount = 2;  // selector (0x510, 16-bit), data (0x511, 8-bit)
  // Item keys firmware knows (QEMU's numbering).
  static constexpr uint16_t kSignature = 0x0000;
  static constexpr uint16_t kId = 0x0001;
  static constexpr uint16_t kUuid = 0x0002;
  static constexpr uint16_t kRamSize = 0x0003;
  static constexpr uint16_t kNbCpus = 0x0005;
  static constexpr uint16_t kBootMenu = 0x000E;
  static constexpr uint16_t kMaxCpus = 0x000F;
  static constexpr uint16_t kFileDir = 0x0019;
  static constexpr uint16_t kFirstFile = 0x0020;
  static constexpr size_t kMaxNameLength = 55;  // 56 bytes with the NUL

  // Starts with the signature "QEMU" and ID = 1 (traditional interface).
  FwCfg();

  // Set-up: a numbered item (replaces an earlier one with the same key).
  void add_item(uint16_t key, std::vector<uint8_t> data);
  // Set-up: a named file; the directory is rebuilt. Fails for an empty or too-long name or a
  // name already present.
  Status add_file(std::string_view name, std::vector<uint8_t> data);
  // The item's bytes as firmware would read them (empty if absent): for tests and docs.
  std::vector<uint8_t> item(uint16_t key) const;

  // IoDevice: offset 0 = selector, 1 = data.
  std::string_view name() const override { return "fw_cfg"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  void rebuild_directory();

  mutable std::mutex mutex_;
  std::map<uint16_t, std::vector<uint8_t>> items_;
  std::vector<std::string> file_names_;  // index i is key kFirstFile + i
  uint16_t selected_ = 0;
  size_t position_ = 0;
};

// Little helpers for item contents (fw_cfg numbers are little-endian, the directory BE).
std::vector<uint8_t> fw_cfg_le(uint64_t value, size_t bytes);

}  // namespace kvpc
