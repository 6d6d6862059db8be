// A device that records every access, for bus and exit-handler tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/io_device.h"

namespace kvpc::testing {

class RecordingDevice final : public IoDevice {
 public:
  struct Access {
    bool write;
    uint64_t offset;
    uint32_t size;
    uint64_t value;
  };
  explicit RecordingDevice(std::string name, uint64_t read_value = 0) : name_(std::move(name)), read_value_(read_value) {}

  std::string_view name() const override { return name_; }
  void read(uint64_t offset, std::span<uint8_t> data) override {
    store_le(data, read_value_ + offset);
    accesses.push_back({false, offset, static_cast<uint32_t>(data.size()), read_value_ + offset});
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    accesses.push_back({true, offset, static_cast<uint32_t>(data.size()), load_le(data)});
  }

  std::vector<Access> accesses;

 private:
  std::string name_;
  uint64_t read_value_;
};

}  // namespace kvpc::testing
