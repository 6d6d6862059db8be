#include "tools/console_input.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kvpc {

namespace {
constexpr uint8_t kCtrlA = 0x01;
}

ConsoleInput::ConsoleInput(EventLoop& loop, Sink sink, Space space, std::function<void()> on_quit)
    : loop_(loop), sink_(std::move(sink)), space_(std::move(space)), on_quit_(std::move(on_quit)) {}

ConsoleInput::~ConsoleInput() { stop(); }

Status ConsoleInput::start(int fd) {
  fd_ = fd;
  if (isatty(fd_) && tcgetattr(fd_, &saved_) == 0) {
    termios raw = saved_;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR;  // keep "\n" → "\r\n" on output so host messages stay readable
    if (tcsetattr(fd_, TCSANOW, &raw) == 0) raw_ = true;
  }
  auto status = loop_.add_fd(fd_, EPOLLIN, [this](uint32_t) { on_readable(); });
  if (!status) {
    // stdin that epoll cannot watch (a regular file, /dev/null): nothing to forward.
    return ok_status();
  }
  watching_ = true;
  return ok_status();
}

void ConsoleInput::stop() {
  if (watching_) {
    loop_.remove_fd(fd_);
    watching_ = false;
  }
  if (raw_) {
    tcsetattr(fd_, TCSANOW, &saved_);
    raw_ = false;
  }
}

void ConsoleInput::retarget(Sink sink, Space space) {
  loop_.post([this, sink = std::move(sink), space = std::move(space)]() mutable {
    sink_ = std::move(sink);
    space_ = std::move(space);
  });
}

void ConsoleInput::on_readable() {
  size_t room = space_ ? space_() : 0;
  if (room == 0) {
    // The guest is not keeping up: stop watching for a moment instead of spinning on a
    // level-triggered fd we cannot drain.
    loop_.remove_fd(fd_);
    watching_ = false;
    loop_.add_timer(std::chrono::milliseconds(10), false, [this] {
      if (!watching_ && loop_.add_fd(fd_, EPOLLIN, [this](uint32_t) { on_readable(); })) watching_ = true;
    });
    return;
  }
  uint8_t buffer[512];
  ssize_t n = read(fd_, buffer, std::min(room, sizeof(buffer)));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // EOF: the user closed input; the guest keeps running.
    loop_.remove_fd(fd_);
    watching_ = false;
    return;
  }
  deliver(buffer, static_cast<size_t>(n));
}

void ConsoleInput::deliver(const uint8_t* data, size_t length) {
  if (!raw_) {
    if (sink_) sink_(std::span<const uint8_t>(data, length));
    return;
  }
  for (size_t i = 0; i < length; ++i) {
    uint8_t byte = data[i];
    if (escape_pending_) {
      escape_pending_ = false;
      if (byte == 'x' || byte == 'X') {
        if (on_quit_) on_quit_();
        continue;
      }
      if (byte != kCtrlA) continue;  // unknown escape: swallow
    } else if (byte == kCtrlA) {
      escape_pending_ = true;
      continue;
    }
    if (sink_) sink_(std::span<const uint8_t>(&byte, 1));
  }
}

}  // namespace kvpc
