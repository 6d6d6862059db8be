// Drives an IoDevice the way a guest can: a script of reads and writes, decoded from the
// fuzzer's bytes, at offsets inside the device's range and widths 1/2/4/8 (a wide access
// at the last port runs past the range, which the buses allow and devices must handle).
//
// Script step: one op byte, then for the access kinds an offset byte and, for writes, the
// value (little-endian, `width` bytes). op % kinds picks the kind; kinds past read/write
// are the target's host-side actions (reset, input, statistics), handed to `host_action`
// with the FuzzInput so they can take their own arguments.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "tests/fuzz/fuzz_input.h"
#include "vmm/io_device.h"
#include "vmm/irq_line.h"
#include "vmm/power_control.h"

namespace kvpc::fuzz {

struct AccessCounts {
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t host_actions = 0;
};

// Steps are bounded so one input cannot make a run take seconds.
inline constexpr size_t kMaxScriptSteps = 4096;

inline AccessCounts run_device_script(IoDevice& device, uint64_t port_count, FuzzInput& in,
                                      unsigned host_action_kinds = 0,
                                      const std::function<void(unsigned kind, FuzzInput&)>& host_action = {},
                                      unsigned max_width = 4) {
  AccessCounts counts;
  const unsigned kinds = 2 + host_action_kinds;
  for (size_t step = 0; step < kMaxScriptSteps && !in.empty(); ++step) {
    uint8_t op = in.u8();
    unsigned kind = op % kinds;
    size_t width = size_t{1} << ((op >> 4) & 3);
    if (width > max_width) width = max_width;
    if (kind >= 2) {
      host_action(kind - 2, in);
      ++counts.host_actions;
      continue;
    }
    uint64_t offset = in.u8() % port_count;
    uint8_t buffer[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    std::span<uint8_t> data(buffer, width);
    if (kind == 0) {
      device.read(offset, data);
      ++counts.reads;
    } else {
      store_le(data, in.u64() & (width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1));
      device.write(offset, data);
      ++counts.writes;
    }
  }
  return counts;
}

// Counts what devices ask of the machine; the fuzz targets check the counts make sense.
class CountingPowerControl final : public PowerControl {
 public:
  void request_poweroff(int exit_status) override {
    ++poweroffs;
    last_exit_status = exit_status;
  }
  void request_reset() override { ++resets; }
  uint64_t poweroffs = 0;
  uint64_t resets = 0;
  int last_exit_status = 0;
};

// Remembers the level and counts changes. Devices promise to pass a level on only when it
// changes, so `repeats` (the same level twice in a row) must stay 0 for those that do.
class LevelIrqLine final : public IrqLine {
 public:
  void set_level(bool asserted) override {
    if (calls > 0 && asserted == level) ++repeats;
    level = asserted;
    ++calls;
  }
  bool level = false;
  uint64_t calls = 0;
  uint64_t repeats = 0;
};

}  // namespace kvpc::fuzz
