// StateWriter: how a device describes its state for `kvpc inspect` without knowing the output.
//
// A device's describe() calls these in order, nesting with begin()/end(); the writer builds
// JSON (tools/json_state_writer.h) or anything else. Keeping this an interface keeps device
// code free of a JSON dependency and makes describe() unit-testable with a tiny fake.
//
// Contract for describe() implementations: take the device's own lock while reading (it runs
// on the event-loop thread while vCPUs may be running), never block on the guest, and write
// only what a developer debugging the device needs: registers as the guest would read them
// (without read side effects), internal state that explains them, counters.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace kvpc {

class StateWriter {
 public:
  virtual ~StateWriter() = default;
  virtual void begin(std::string_view name) = 0;  // a nested group
  virtual void end() = 0;
  virtual void number(std::string_view name, uint64_t value) = 0;
  virtual void flag(std::string_view name, bool value) = 0;
  virtual void text(std::string_view name, std::string_view value) = 0;
  virtual void bytes(std::string_view name, std::span<const uint8_t> value) = 0;  // written as hex
};

}  // namespace kvpc
