// System control port A (0x92): bit 0 requests a reset and never reads back.
#include "devices/system_control_port_a.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  CountingPowerControl power;
  SystemControlPortA device(power);
  run_device_script(device, SystemControlPortA::kPortCount, in, 1, [&](unsigned, FuzzInput&) { device.reset(); });
  uint8_t probe = 0xFF;
  device.read(0, std::span<uint8_t>(&probe, 1));
  KVPC_FUZZ_CHECK((probe & SystemControlPortA::kFastReset) == 0);
  KVPC_FUZZ_CHECK(power.poweroffs == 0);
  return 0;
}
