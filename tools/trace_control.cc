#include "tools/trace_control.h"

#include "vmm/observe.h"

namespace kvpc {

TraceControl& TraceControl::instance() {
  static TraceControl control;
  return control;
}

void TraceControl::configure(std::string destination) {
  std::lock_guard lock(mutex_);
  destination_ = destination.empty() ? "stderr" : std::move(destination);
  // A file destination is opened now, on the main thread: `kvpc trace` switches tracing on
  // from the event loop, whose seccomp filter cannot open files for writing (docs/security.md).
  if (destination_ != "stderr" && !tracer_) {
    auto opened = Tracer::open(destination_);
    if (opened) {
      tracer_ = std::move(opened).value();
      observe::install_tracer(tracer_.get());
    } else {
      open_error_ = opened.error().message;
    }
  }
}

Status TraceControl::set(uint32_t bits) {
  std::lock_guard lock(mutex_);
  if (bits != 0 && !tracer_ && !open_error_.empty()) return make_error(open_error_);
  if (bits != 0 && !tracer_) {
    auto opened = Tracer::open(destination_);
    if (!opened) return opened.error();
    tracer_ = std::move(opened).value();
    observe::install_tracer(tracer_.get());
  }
  observe::set_trace_categories(bits);
  if (tracer_ && bits == 0) tracer_->flush();
  return ok_status();
}

uint32_t TraceControl::categories() const { return observe::trace_categories(); }

std::string TraceControl::destination() const {
  std::lock_guard lock(mutex_);
  return destination_;
}

void TraceControl::shutdown() {
  std::lock_guard lock(mutex_);
  observe::set_trace_categories(0);
  observe::install_tracer(nullptr);
  tracer_.reset();  // joins the flusher after a last flush
}

}  // namespace kvpc
