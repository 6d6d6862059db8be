// The debugcon port: every byte written reaches the console, reads say it is there.
#include "devices/debugcon.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  CaptureCharBackend output(64 * 1024);
  Debugcon device(output);
  auto counts = run_device_script(device, Debugcon::kPortCount, in);
  // One byte per write, whatever the width (the rest land on unclaimed ports).
  KVPC_FUZZ_CHECK(output.stats().bytes_written + output.stats().bytes_dropped == counts.writes);
  uint8_t probe[4] = {0, 0, 0, 0};
  device.read(0, std::span<uint8_t>(probe, 4));
  KVPC_FUZZ_CHECK(probe[0] == Debugcon::kPresenceValue);
  return 0;
}
