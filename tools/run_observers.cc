#include "tools/run_observers.h"

#include <fmt/format.h>

#include "tools/trace_control.h"
#include "vmm/observe.h"

namespace kvpc {

Result<std::unique_ptr<RunObservers>> RunObservers::start(const MachineConfig& config, const ObserverFlags& flags) {
  auto observers = std::unique_ptr<RunObservers>(new RunObservers());
  TraceControl::instance().configure(flags.trace_file);
  if (!flags.trace.empty()) {
    uint32_t bits = 0;
    std::string_view bad;
    if (!observe::parse_categories(flags.trace, bits, bad)) {
      return make_error(fmt::format("--trace {}: unknown category '{}'; use pio, mmio, irq, integration, devices, all",
                                    flags.trace, bad));
    }
    if (auto status = TraceControl::instance().set(bits); !status) return status.error();
  }
  if (!flags.record_io.empty() && !config.disks.empty()) {
    // virtio-blk completes requests on worker threads that change device state and raise the
    // interrupt outside any recorded input: the stream would not replay, and the recorder's
    // lock order (recorder, then device) would be inverted. Refuse rather than record nonsense.
    TraceControl::instance().shutdown();
    return make_error("--record-io does not support --disk yet: disk completions are not recorded as host inputs");
  }
  if (!flags.record_io.empty()) {
    io_record::Header header;
    header.ram_bytes = config.ram_bytes;
    header.cpus = config.cpus;
    header.accelerator = flags.accelerator;
    header.name = config.name;
    auto recorder = IoRecorder::create(flags.record_io, header);
    if (!recorder) {
      TraceControl::instance().shutdown();
      return recorder.error();
    }
    observers->recorder_ = std::move(recorder).value();
    observe::install_recorder(observers->recorder_.get());
  }
  return observers;
}

RunObservers::~RunObservers() { (void)finish(); }

Status RunObservers::finish() {
  if (finished_) return ok_status();
  finished_ = true;
  Status status = ok_status();
  if (recorder_) {
    observe::install_recorder(nullptr);
    status = recorder_->finish();
  }
  TraceControl::instance().shutdown();
  return status;
}

}  // namespace kvpc
