// RunObservers: what `kvpc run --trace/--trace-file/--record-io` switches on for the whole run
// (every boot of the session), and switches off again once the VM has ended.
#pragma once

#include <memory>
#include <string>

#include "vmm/io_record.h"
#include "vmm/machine/machine_config.h"
#include "vmm/result.h"

namespace kvpc {

struct ObserverFlags {
  std::string trace;       // "pio,mmio,..." or empty
  std::string trace_file;  // empty / "stderr" = standard error
  std::string record_io;   // empty = no recording
  std::string accelerator; // as given to --accel (the recording's header notes it)
};

class RunObservers {
 public:
  // Opens the trace destination and the recording; installs them (before any vCPU runs).
  static Result<std::unique_ptr<RunObservers>> start(const MachineConfig& config, const ObserverFlags& flags);
  ~RunObservers();
  // Uninstalls; closes the recording (end marker) and flushes the trace. Returns a write error.
  Status finish();

 private:
  RunObservers() = default;
  std::unique_ptr<IoRecorder> recorder_;
  bool finished_ = false;
};

}  // namespace kvpc
