// isa-debug-exit: any write powers off with (v << 1) | 1, never 0; reads are zero.
#include "devices/debug_exit.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  CountingPowerControl power;
  DebugExit device(power);
  auto counts = run_device_script(device, DebugExit::kPortCount, in);
  KVPC_FUZZ_CHECK(power.poweroffs == counts.writes);
  KVPC_FUZZ_CHECK(power.resets == 0);
  if (counts.writes > 0) KVPC_FUZZ_CHECK((power.last_exit_status & 1) == 1);
  uint8_t probe[4] = {0xFF, 0xFF, 0xFF, 0xFF};
  device.read(1, std::span<uint8_t>(probe, 4));
  KVPC_FUZZ_CHECK(load_le(probe) == 0);
  return 0;
}
