#include "tools/gdb_attach.h"

namespace kvpc {

gdb::DebugTarget debug_target_for(Machine& machine) {
  gdb::DebugTarget target;
  for (const auto& runner : machine.vcpus()) target.vcpus.push_back(&runner->backend());
  target.memory = &machine.memory();
  target.finished = [&machine] { return machine.finished(); };
  target.kill = [&machine](std::string why) { machine.stop({MachineOutcome::Kind::kStopped, 0, std::move(why)}); };
  return target;
}

}  // namespace kvpc
