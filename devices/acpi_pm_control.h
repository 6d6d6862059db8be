// AcpiPmControl: a minimal ACPI PM1a control register (PM1a_CNT_BLK) at 0x604, 2 ports
// wide (QEMU's convention, which the built-in guest follows).
//
// A write that sets SLP_EN (bit 13) powers the VM off with exit status 0, whatever SLP_TYP
// says: kvpc has no sleep states, so every sleep request is treated as S5 (soft off).
// Other bits (SCI_EN, SLP_TYP, ...) are stored and read back; SLP_EN is write-only and
// reads 0. The register is 16 bits and meant to be written whole; byte writes update
// their half, so a byte write to 0x605 can set SLP_EN too. Bytes of a wider access past
// port 0x605 land on unclaimed ports.
//
// Concurrency contract: one std::mutex guards the register for a whole access;
// request_poweroff() is called after it is released.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>

#include "vmm/io_device.h"
#include "vmm/power_control.h"

namespace kvpc {

class AcpiPmControl final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 2;
  static constexpr uint16_t kSciEnable = 1u << 0;
  static constexpr uint16_t kSleepTypeMask = 7u << 10;
  static constexpr uint16_t kSleepEnable = 1u << 13;

  // power must outlive the device.
  explicit AcpiPmControl(PowerControl& power) : power_(power) {}

  std::string_view name() const override { return "acpi-pm1a-cnt"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // The stored register (never has SLP_EN).
  uint16_t value() const;

 private:
  PowerControl& power_;
  mutable std::mutex mutex_;
  uint16_t value_ = 0;
};

}  // namespace kvpc
