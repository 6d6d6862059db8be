// Glue between a session and the gdb stub (vmm/debug/gdb_stub.h): what the stub gets to
// see of each boot's Machine.
#pragma once

#include "vmm/debug/gdb_stub.h"
#include "vmm/machine/machine.h"

namespace kvpc {

// The stub's view of `machine`; valid until GdbStub::detach() (the machine must outlive it).
gdb::DebugTarget debug_target_for(Machine& machine);

}  // namespace kvpc
