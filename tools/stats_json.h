// The `stats` control method's answer: exit counters per vCPU and for the VM, per device
// range with the handling-time histogram (vmm/exit_stats.h), as JSON.
#pragma once

#include <nlohmann/json.hpp>

#include "vmm/machine/machine.h"

namespace kvpc {

nlohmann::json machine_stats_json(const Machine& machine);

// TSC ticks per second, measured once (5 ms against the monotonic clock) and cached.
double tsc_hz();

}  // namespace kvpc
