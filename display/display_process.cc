#include "display/display_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

extern char** environ;

namespace kvpc {
namespace {

namespace wire = display_wire;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string exit_description(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return "ended";
}

// A descriptor moved above the ones the child receives (3, 4), close-on-exec.
int move_high(int fd) {
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  close(fd);
  return high;
}

}  // namespace

std::optional<std::string> find_display_helper() {
  if (const char* forced = getenv("KVPC_DISPLAY_HELPER"); forced != nullptr && forced[0] != '\0') {
    if (executable(forced)) return std::string(forced);
    return std::nullopt;
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return std::nullopt;
  std::string path(self, static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  path = path.substr(0, slash + 1) + "kvpc-display";
  if (!executable(path)) return std::nullopt;
  return path;
}

Result<std::unique_ptr<DisplayProcess>> DisplayProcess::open(std::string vm_name, Callbacks callbacks) {
  auto helper = find_display_helper();
  if (!helper) {
    const char* forced = getenv("KVPC_DISPLAY_HELPER");
    return make_error(forced != nullptr && forced[0] != '\0'
                          ? fmt::format("--display sdl: KVPC_DISPLAY_HELPER={} is not an executable", forced)
                          : std::string("--display sdl: kvpc-display is not installed next to kvpc"));
  }
  std::unique_ptr<DisplayProcess> display(new DisplayProcess(std::move(vm_name), std::move(callbacks)));
  if (auto status = display->spawn(*helper); !status) {
    display->stop();
    return status.error();
  }
  if (auto status = display->wait_until_ready(); !status) {
    display->stop();
    return status.error();
  }
  display->thread_ = std::thread([d = display.get()] { d->pump(); });
  return display;
}

Status DisplayProcess::spawn(const std::string& helper) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return make_error(fmt::format("--display sdl: socketpair failed: {}", strerror(errno)));
  }
  socket_ = move_high(pair[0]);
  const int child_socket = move_high(pair[1]);
  int memfd = memfd_create("kvpc-framebuffer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd >= 0) memfd = move_high(memfd);
  wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto fail = [&](const std::string& what) {
    const std::string message = fmt::format("--display sdl: {}: {}", what, strerror(errno));
    if (child_socket >= 0) close(child_socket);
    if (memfd >= 0) close(memfd);
    return make_error(message);
  };
  if (socket_ < 0 || child_socket < 0 || memfd < 0 || wake_ < 0) return fail("cannot create the display's descriptors");
  if (ftruncate(memfd, static_cast<off_t>(wire::kFramebufferBytes)) != 0) return fail("cannot size the framebuffer");
  void* mapped = mmap(nullptr, wire::kFramebufferBytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (mapped == MAP_FAILED) return fail("cannot map the framebuffer");
  framebuffer_ = static_cast<uint8_t*>(mapped);
  // The display must not shrink the memfd under kvpc's mapping (a write there would raise
  // SIGBUS in kvpc) nor map it writable: seal its size and any new writable mapping.
  // F_SEAL_FUTURE_WRITE needs Linux 5.1; without it the display could scribble on its own
  // picture only, which harms no one but itself.
  if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL | F_SEAL_FUTURE_WRITE) != 0 &&
      fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return fail("cannot seal the framebuffer");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);  // the guest's console may be on stdout
  posix_spawn_file_actions_adddup2(&actions, child_socket, wire::kSocketFd);
  posix_spawn_file_actions_adddup2(&actions, memfd, wire::kFramebufferFd);
  // Nothing else of kvpc's: no guest memory, no KVM or image descriptors (defence in depth:
  // they are close-on-exec too).
  posix_spawn_file_actions_addclosefrom_np(&actions, wire::kFramebufferFd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int signal_number : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, signal_number);
  posix_spawnattr_setsigmask(&attributes, &none);  // kvpc's main thread blocks its stop signals
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const std::string parent = std::to_string(getpid());
  std::vector<char*> argv = {const_cast<char*>(helper.c_str()), const_cast<char*>(name_.c_str()),
                             const_cast<char*>(parent.c_str()), nullptr};
  const int spawned = posix_spawn(&pid_, helper.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(child_socket);
  close(memfd);
  if (spawned != 0) {
    pid_ = -1;
    return make_error(fmt::format("--display sdl: cannot start {}: {}", helper, strerror(spawned)));
  }
  return ok_status();
}

Status DisplayProcess::wait_until_ready() {
  const int64_t deadline = now_ms() + wire::kStartTimeoutMs;
  for (;;) {
    const int64_t left = deadline - now_ms();
    if (left <= 0) {
      return make_error(fmt::format("--display sdl: kvpc-display did not open a window within {} s",
                                    wire::kStartTimeoutMs / 1000));
    }
    pollfd fd{socket_, POLLIN, 0};
    const int ready = poll(&fd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return make_error(fmt::format("--display sdl: poll failed: {}", strerror(errno)));
    if (ready == 0) continue;
    wire::Message buffer[2];
    const ssize_t n = recv(socket_, buffer, sizeof(buffer), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      // Closed its socket: normally because it exited. One that closed the socket and lives on
      // is given 0.5 s, then killed (by stop(), which open() calls on this error).
      int status = 0;
      bool ended = false;
      for (int waited = 0; waited < 500 && !ended; waited += 10) {
        ended = pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_;
        if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (ended) pid_ = -1;
      return make_error(fmt::format("--display sdl: kvpc-display exited before opening a window ({})",
                                    ended ? exit_description(status) : std::string("it closed its socket")));
    }
    auto message = wire::parse_from_display(buffer, static_cast<size_t>(n));
    if (!message) {
      return make_error(fmt::format("--display sdl: kvpc-display sent a message kvpc refuses: {}", message.error().message));
    }
    if (message->type == wire::Type::kReady) return ok_status();
    if (message->type == wire::Type::kError) return make_error(fmt::format("--display sdl: {}", wire::text_of(*message)));
    return make_error("--display sdl: kvpc-display sent input before saying its window is open");
  }
}

DisplayProcess::~DisplayProcess() { stop(); }

void DisplayProcess::set_state(std::string state) {
  {
    std::lock_guard lock(state_mutex_);
    state_ = std::move(state);
    state_changed_ = true;
  }
  if (wake_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = write(wake_, &one, sizeof(one));
  }
}

void DisplayProcess::stop() {
  quit_.store(true);
  if (wake_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = write(wake_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  reap(0);  // open() failed before the pump ran, or the pump already reaped (then a no-op)
  closed_.store(true);
  if (socket_ >= 0) close(socket_);
  if (wake_ >= 0) close(wake_);
  socket_ = wake_ = -1;
  if (framebuffer_ != nullptr) munmap(framebuffer_, wire::kFramebufferBytes);
  framebuffer_ = nullptr;
}

void DisplayProcess::reap(int grace_ms) {
  if (pid_ <= 0) return;
  int status = 0;
  for (int waited = 0; waited < grace_ms; waited += 10) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void DisplayProcess::close_display(const std::string& why) {
  spdlog::error("{}: {}: closing the window (the VM keeps running headless)", name_, why);
  reap(0);
  closed_.store(true);
}

bool DisplayProcess::send(const wire::Message& message) {
  const ssize_t n = ::send(socket_, &message, sizeof(message), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(sizeof(message))) return true;
  close_display(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                    ? std::string("kvpc-display does not read its messages")
                    : fmt::format("cannot send to kvpc-display: {}", n < 0 ? strerror(errno) : "short send"));
  return false;
}

bool DisplayProcess::receive() {
  // Up to 64 datagrams per wake-up, so a display flooding input cannot starve the refresh.
  for (int i = 0; i < 64; ++i) {
    wire::Message buffer[2];  // room for one more byte than a message: MSG_TRUNC reports the real size
    const ssize_t n = recv(socket_, buffer, sizeof(buffer), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    if (n <= 0) {
      close_display(n == 0 ? std::string("kvpc-display exited") : fmt::format("cannot read from kvpc-display: {}", strerror(errno)));
      return false;
    }
    auto message = wire::parse_from_display(buffer, static_cast<size_t>(n));
    if (!message) {
      close_display(fmt::format("kvpc-display sent a message kvpc refuses ({})", message.error().message));
      return false;
    }
    switch (message->type) {
      case wire::Type::kKey:
        if (callbacks_.key) callbacks_.key(message->key.hid_usage, message->key.pressed != 0);
        break;
      case wire::Type::kMouse:
        if (callbacks_.mouse) callbacks_.mouse(message->mouse.dx, message->mouse.dy, message->mouse.buttons);
        break;
      case wire::Type::kClose:
        if (callbacks_.on_close) callbacks_.on_close(message->close.forced != 0);
        break;
      case wire::Type::kAck:
        if (!in_flight_ || message->ack.serial != wire_serial_) {
          close_display(fmt::format("kvpc-display acknowledged frame {}, but {}", message->ack.serial,
                                    in_flight_ ? fmt::format("frame {} is in flight", wire_serial_)
                                               : std::string("no frame is in flight")));
          return false;
        }
        in_flight_ = false;
        break;
      case wire::Type::kError:
        close_display(fmt::format("kvpc-display: {}", wire::text_of(*message)));
        return false;
      default:
        close_display("kvpc-display said it is ready a second time");
        return false;
    }
  }
  return true;
}

bool DisplayProcess::send_frame_if_due() {
  if (!callbacks_.refresh) return true;
  auto update = callbacks_.refresh(serial_, frame_);
  if (!update) return true;  // between boots: the window keeps the last picture
  serial_ = update->serial;
  if (frame_.width == 0 || frame_.height == 0 || frame_.width > wire::kMaxWidth || frame_.height > wire::kMaxHeight) {
    return true;
  }
  const Damage& damage = update->damage;
  const bool resized = resend_all_ || damage.resized;
  uint32_t first = 0, last = frame_.height;
  if (!resized) {
    if (damage.empty()) return true;
    first = std::min(damage.first, frame_.height);
    last = std::min(damage.last, frame_.height);
    if (first >= last) return true;
  }
  const uint32_t stride = frame_.width * 4;
  std::memcpy(framebuffer_ + size_t{first} * stride, frame_.row(first), size_t{last - first} * stride);
  wire::Message message = wire::make(wire::Type::kFrame);
  message.frame = {++wire_serial_, frame_.width, frame_.height, stride, first, last, resized ? 1u : 0u};
  if (!send(message)) return false;
  resend_all_ = false;
  in_flight_ = true;
  sent_at_ms_ = now_ms();
  frames_sent_.fetch_add(1);
  return true;
}

void DisplayProcess::pump() {
  pthread_setname_np(pthread_self(), "display-pump");  // ps/top, and the name docs/security.md uses
  next_refresh_ms_ = now_ms();
  for (;;) {
    const int64_t now = now_ms();
    int64_t wait = in_flight_ ? sent_at_ms_ + wire::kAckTimeoutMs - now : next_refresh_ms_ - now;
    wait = std::clamp<int64_t>(wait, 0, wire::kAckTimeoutMs);
    pollfd fds[2] = {{socket_, POLLIN, 0}, {wake_, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(wait)) < 0 && errno != EINTR) {
      close_display(fmt::format("poll failed: {}", strerror(errno)));
      return;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t ignored = read(wake_, &count, sizeof(count));
    }
    if (quit_.load()) {
      send(wire::make(wire::Type::kQuit));
      reap(500);  // a display that does not quit within 0.5 s is killed
      return;
    }
    if (fds[0].revents & POLLIN) {
      if (!receive()) return;
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      close_display("kvpc-display exited");
      return;
    }
    bool title_due = false;
    std::string state;
    {
      std::lock_guard lock(state_mutex_);
      title_due = state_changed_;
      state = state_;
      state_changed_ = false;
    }
    if (title_due) {
      wire::Message message = wire::make(wire::Type::kState);
      wire::set_text(message, state);
      if (!send(message)) return;
    }
    const int64_t after = now_ms();
    if (in_flight_) {
      if (after - sent_at_ms_ >= wire::kAckTimeoutMs) {
        close_display(fmt::format("kvpc-display did not acknowledge a frame within {} s", wire::kAckTimeoutMs / 1000));
        return;
      }
      continue;
    }
    if (after >= next_refresh_ms_) {
      next_refresh_ms_ = after + kRefreshMs;
      if (!send_frame_if_due()) return;
    }
  }
}

}  // namespace kvpc
