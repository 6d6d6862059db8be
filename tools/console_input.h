// ConsoleInput: stdin → the guest's serial port, on the event loop.
//
// When stdin is a terminal it is put in raw mode (restored on exit, also after a crash of
// the guest) and Ctrl-A is an escape: Ctrl-A x stops the VM, Ctrl-A Ctrl-A sends one
// Ctrl-A, as in QEMU. Without a terminal (pipes, CI) bytes pass through untouched and EOF
// simply ends input.
//
// Back-pressure: bytes are read only while the UART has room; when it is full, reading
// pauses and retries every 10 ms, so a paste into a slow guest loses nothing.
#pragma once

#include <termios.h>

#include <functional>
#include <span>

#include "vmm/event_loop.h"

namespace kvpc {

class ConsoleInput {
 public:
  using Sink = std::function<size_t(std::span<const uint8_t>)>;  // returns bytes accepted
  using Space = std::function<size_t()>;                         // bytes the sink can take now

  ConsoleInput(EventLoop& loop, Sink sink, Space space, std::function<void()> on_quit);
  ~ConsoleInput();

  Status start(int fd = 0);
  void stop();
  // Points input at a new sink (after a reset rebuilt the machine).
  void retarget(Sink sink, Space space);

 private:
  void on_readable();
  void deliver(const uint8_t* data, size_t length);

  EventLoop& loop_;
  Sink sink_;
  Space space_;
  std::function<void()> on_quit_;
  int fd_ = -1;
  bool watching_ = false;
  bool raw_ = false;
  bool escape_pending_ = false;
  termios saved_{};
};

}  // namespace kvpc
