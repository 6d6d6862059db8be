#include "tools/session_display.h"

#include "tools/vm_session.h"

namespace kvpc {

Result<DisplaySource::Update> SessionDisplay::refresh(uint64_t since_serial, Frame& frame) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Machine> machine = session_.machine();
  if (!machine) return make_error("the VM has no running machine (it is between boots or has ended)");
  const uint64_t boot = session_.boot_count();
  if (!source_ || boot != boot_) {
    Machine* raw = machine.get();
    // The fetch runs only inside refresh(), while `machine` above keeps the machine alive.
    source_ = std::make_unique<DisplaySource>(machine->board().vga(), [raw](std::span<uint64_t> bitmap) {
      return raw->fetch_framebuffer_dirty_log(bitmap).ok();
    });
    boot_ = boot;
    since_serial = 0;
    frame = Frame{};
  }
  return source_->refresh(since_serial, frame);
}

}  // namespace kvpc
