// SessionDisplay: the screen of a VmSession across guest resets. Each boot is a new Machine
// with a new VGA; this keeps one DisplaySource for the machine that is running now and
// rebuilds it when a reset replaced the machine, so the window and `screenshot` never look
// at a VGA that is gone.
//
// Concurrency contract: refresh() may be called from any thread (window thread, detached
// control-request workers); one mutex serialises it. It holds a shared_ptr to the machine
// for the duration of the call, so the VGA cannot be destroyed under the renderer.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "display/display_source.h"
#include "display/frame.h"
#include "vmm/result.h"

namespace kvpc {

class VmSession;

class SessionDisplay {
 public:
  explicit SessionDisplay(VmSession& session) : session_(session) {}

  // Renders the running machine's screen into `frame` (see DisplaySource::refresh). Fails
  // when no machine is running (between boots, or after the VM ended).
  Result<DisplaySource::Update> refresh(uint64_t since_serial, Frame& frame);

 private:
  VmSession& session_;
  std::mutex mutex_;
  uint64_t boot_ = 0;
  std::unique_ptr<DisplaySource> source_;
};

}  // namespace kvpc
