// The ACPI PM1a control register: SLP_EN powers off with status 0 and never reads back.
#include "devices/acpi_pm_control.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  CountingPowerControl power;
  AcpiPmControl device(power);
  run_device_script(device, AcpiPmControl::kPortCount, in);
  KVPC_FUZZ_CHECK((device.value() & AcpiPmControl::kSleepEnable) == 0);
  if (power.poweroffs > 0) KVPC_FUZZ_CHECK(power.last_exit_status == 0);
  KVPC_FUZZ_CHECK(power.resets == 0);
  return 0;
}
