// TraceControl: who owns the Tracer of a `kvpc run` process.
//
// `kvpc run --trace ...` starts tracing before the first boot; `kvpc trace NAME ...` switches
// categories at run time. Either way there is one Tracer per process writing to the run's
// --trace-file (stderr by default), created the first time a category is switched on and
// removed by shutdown() once the VM has ended (after every producer thread has stopped).
//
// Concurrency contract: configure()/shutdown() on kvpc run's main thread, before and after
// the session; set() from the event loop (control handler) or the main thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "vmm/result.h"
#include "vmm/trace.h"

namespace kvpc {

class TraceControl {
 public:
  static TraceControl& instance();

  void configure(std::string destination);
  // Switches to exactly `bits` (observe trace categories; 0 = off). Opens the Tracer on first use.
  Status set(uint32_t bits);
  uint32_t categories() const;
  std::string destination() const;
  // Flushes and removes the Tracer.
  void shutdown();

 private:
  mutable std::mutex mutex_;
  std::string destination_ = "stderr";
  std::string open_error_;  // why configure() could not open a file destination
  std::unique_ptr<Tracer> tracer_;
};

}  // namespace kvpc
