// DisplayProcess: the `--display sdl` window, shown by a separate process (kvpc-display,
// display/window/) so that neither SDL nor the graphics stack runs inside the VMM.
//
// open() spawns kvpc-display with one end of a SOCK_SEQPACKET socketpair and a memfd
// framebuffer (display/display_wire.h has the wire and the framebuffer contract) and waits for
// its kReady (or kError: the window could not be opened). Then a pump thread of kvpc:
//   - every kRefreshMs asks `refresh` for the rows that changed, and, when no frame is in
//     flight, copies them into the memfd and sends a kFrame; it touches the memfd again only
//     after the display's kAck (one frame in flight);
//   - turns kKey / kMouse / kClose into the callbacks (same shape as the old in-process window);
//   - sends the title's state (set_state) and, at stop(), kQuit.
// kvpc-display is untrusted input: every message is validated (parse_from_display). A refused
// message, a display that exits, or one that does not ack a frame within kAckTimeoutMs is
// logged in one line; the display is killed and reaped, and the VM keeps running headless.
// Nothing here ever blocks a vCPU: the pump thread sends with MSG_DONTWAIT and only the pump
// thread waits on the socket.
//
// Where kvpc-display is: $KVPC_DISPLAY_HELPER when set (tests), else next to the running
// executable (/proc/self/exe's folder), as the build and an install put it.
//
// Concurrency contract: open() and stop() on the thread that owns the object (kvpc's main
// thread: the child gets PR_SET_PDEATHSIG, which fires when the *thread* that spawned it ends,
// so spawn from a thread that lives as long as the VM). set_state() from any thread. The
// callbacks run on the pump thread; stop() joins it, so call stop() from a thread the
// callbacks never wait for.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "display/display_source.h"
#include "display/display_wire.h"
#include "display/frame.h"
#include "vmm/result.h"

namespace kvpc {

// The kvpc-display executable kvpc would start, or std::nullopt when there is none.
std::optional<std::string> find_display_helper();

class DisplayProcess {
 public:
  struct Callbacks {
    std::function<Result<DisplaySource::Update>(uint64_t since_serial, Frame& frame)> refresh;
    std::function<void(uint16_t hid_usage, bool pressed)> key;
    std::function<void(int dx, int dy, uint8_t buttons)> mouse;
    std::function<void(bool forced)> on_close;
  };
  static constexpr int kRefreshMs = 33;

  // Spawns kvpc-display and waits for its window; fails with the reason (no helper, SDL could
  // not open a window, the helper died or did not answer) — the caller then runs headless.
  static Result<std::unique_ptr<DisplayProcess>> open(std::string vm_name, Callbacks callbacks);
  ~DisplayProcess();

  void set_state(std::string state);  // "running", "paused", ...
  void stop();                        // asks the display to quit, then kills and reaps it

  // For tests and the idle-cost measurement.
  uint64_t frames_sent() const { return frames_sent_.load(); }
  bool alive() const { return !closed_.load(); }
  pid_t pid() const { return pid_; }

 private:
  DisplayProcess(std::string vm_name, Callbacks callbacks) : name_(std::move(vm_name)), callbacks_(std::move(callbacks)) {}
  Status spawn(const std::string& helper);
  Status wait_until_ready();
  void pump();
  // Handles one datagram; false when the display must be closed (reason logged).
  bool receive();
  bool send_frame_if_due();
  bool send(const display_wire::Message& message);
  void close_display(const std::string& why);  // pump thread: log `why`, kill, reap
  void reap(int grace_ms);

  std::string name_;
  Callbacks callbacks_;
  pid_t pid_ = -1;
  int socket_ = -1;
  int wake_ = -1;  // eventfd: set_state() and stop() wake the pump thread
  uint8_t* framebuffer_ = nullptr;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> frames_sent_{0};

  std::mutex state_mutex_;
  std::string state_ = "starting";
  bool state_changed_ = true;

  // Pump-thread state.
  Frame frame_;
  uint64_t serial_ = 0;          // DisplaySource serial last rendered
  uint64_t wire_serial_ = 0;     // serial of the last kFrame sent
  bool in_flight_ = false;
  int64_t sent_at_ms_ = 0;
  int64_t next_refresh_ms_ = 0;
  bool resend_all_ = true;       // the display has no picture yet (or a new size)
};

}  // namespace kvpc
