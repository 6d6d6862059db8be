// The i8042 keyboard controller's data and command ports under random guest accesses.
#include "devices/i8042.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  CountingPowerControl power;
  I8042 controller(power);
  // Alternate between the two ports in chunks: the first byte of each chunk says which.
  while (!in.empty()) {
    IoDevice& port = (in.u8() & 1) ? controller.command_port() : controller.data_port();
    FuzzInput chunk(in.chunk());
    run_device_script(port, 1, chunk, 2, [&](unsigned kind, FuzzInput&) {
      if (kind == 0) controller.reset();
      else KVPC_FUZZ_CHECK(controller.stats().reset_requests == power.resets);
    });
  }
  KVPC_FUZZ_CHECK(controller.stats().reset_requests == power.resets);
  KVPC_FUZZ_CHECK(power.poweroffs == 0);
  return 0;
}
