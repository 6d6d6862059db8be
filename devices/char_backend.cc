#include "devices/char_backend.h"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

namespace kvpc {
namespace {

// How long write() waits for a non-blocking descriptor to drain before dropping bytes.
// stdout can be non-blocking behind our back: it often shares its open file description
// with stdin, which the event loop switches to O_NONBLOCK. A vCPU must not stall for long.
constexpr int kWritableWaitMs = 100;

// Writes to a file descriptor with write(2): retries EINTR and short writes, waits briefly
// on EAGAIN, and otherwise counts the failure and drops the rest of the call's bytes.
class FdCharBackend final : public CharBackend {
 public:
  FdCharBackend(std::string description, int fd, bool owns_fd)
      : description_(std::move(description)), fd_(fd), owns_fd_(owns_fd) {}
  ~FdCharBackend() override {
    if (owns_fd_) ::close(fd_);
  }
  FdCharBackend(const FdCharBackend&) = delete;
  FdCharBackend& operator=(const FdCharBackend&) = delete;

  std::string_view description() const override { return description_; }

  void write(std::span<const uint8_t> bytes) override {
    // Serialised so that two vCPUs' lines never interleave mid-call.
    std::lock_guard lock(mutex_);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable()) continue;
      count_error();  // includes n == 0, which would otherwise spin forever
      break;
    }
    count_written(done);
    count_dropped(bytes.size() - done);
  }

 private:
  bool wait_writable() const {
    pollfd pfd{fd_, POLLOUT, 0};
    for (;;) {
      const int ready = ::poll(&pfd, 1, kWritableWaitMs);
      if (ready < 0 && errno == EINTR) continue;
      return ready > 0 && (pfd.revents & POLLOUT) != 0;
    }
  }

  const std::string description_;
  const int fd_;
  const bool owns_fd_;
  std::mutex mutex_;
};

class NullCharBackend final : public CharBackend {
 public:
  std::string_view description() const override { return "none"; }
  void write(std::span<const uint8_t> bytes) override { count_dropped(bytes.size()); }
};

std::string errno_text(int error) { return std::generic_category().message(error); }

std::string open_failure_hint(int error) {
  switch (error) {
    case ENOENT: return " (a directory on the path does not exist)";
    case EISDIR: return " (the path is a directory, not a file)";
    case EACCES: return " (permission denied on the file or a directory on the path)";
    case ENXIO: return " (a FIFO with no reader, or a device that is not there)";
    default: return "";
  }
}

Result<std::unique_ptr<CharBackend>> open_file_backend(std::string_view spec, std::string_view path_view) {
  if (path_view.empty()) {
    return make_error(fmt::format("char backend '{}': the file path is empty; use file:PATH", spec));
  }
  const std::string path(path_view);
  // O_NONBLOCK only for the open itself: opening a FIFO without a reader would otherwise
  // hang set-up; it fails with ENXIO instead. O_NOCTTY: a tty path must not become our
  // controlling terminal.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0) {
    const int error = errno;
    return make_error(fmt::format("char backend '{}': cannot open '{}' for writing: {}{}", spec, path,
                                  errno_text(error), open_failure_hint(error)));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return make_error(fmt::format("char backend '{}': cannot stat '{}': {}", spec, path, errno_text(error)));
  }
  const bool writable_kind = S_ISREG(info.st_mode) || S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode) ||
                             S_ISSOCK(info.st_mode);
  if (!writable_kind) {
    ::close(fd);
    return make_error(fmt::format(
        "char backend '{}': '{}' is not a regular file, character device or FIFO", spec, path));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int error = errno;
    ::close(fd);
    return make_error(fmt::format("char backend '{}': cannot make '{}' blocking: {}", spec, path, errno_text(error)));
  }
  return std::unique_ptr<CharBackend>(std::make_unique<FdCharBackend>(std::string(spec), fd, /*owns_fd=*/true));
}

}  // namespace

CharBackendStats CharBackend::stats() const {
  return CharBackendStats{bytes_written_.load(std::memory_order_relaxed),
                          bytes_dropped_.load(std::memory_order_relaxed),
                          write_errors_.load(std::memory_order_relaxed)};
}

Result<std::unique_ptr<CharBackend>> make_char_backend(std::string_view spec) {
  constexpr std::string_view kFilePrefix = "file:";
  if (spec == "stdio") {
    // A closed stdout (kvpc started with >&-) is a set-up error, not a stream of counted
    // write failures later.
    if (::fcntl(STDOUT_FILENO, F_GETFL) < 0) {
      return make_error(fmt::format("char backend 'stdio': standard output is not open: {}", errno_text(errno)));
    }
    return std::unique_ptr<CharBackend>(std::make_unique<FdCharBackend>("stdio", STDOUT_FILENO, /*owns_fd=*/false));
  }
  if (spec == "none") return std::unique_ptr<CharBackend>(std::make_unique<NullCharBackend>());
  if (spec.starts_with(kFilePrefix)) return open_file_backend(spec, spec.substr(kFilePrefix.size()));
  return make_error(fmt::format("char backend '{}': unknown kind; expected stdio, file:PATH or none", spec));
}

CaptureCharBackend::CaptureCharBackend(size_t capacity) : capacity_(capacity) { buffer_.reserve(capacity_); }

void CaptureCharBackend::write(std::span<const uint8_t> bytes) {
  size_t kept = 0;
  {
    std::lock_guard lock(mutex_);
    kept = std::min(bytes.size(), capacity_ - buffer_.size());
    // Within the reserved capacity, so append does not allocate.
    buffer_.append(reinterpret_cast<const char*>(bytes.data()), kept);
  }
  count_written(kept);
  count_dropped(bytes.size() - kept);
  if (kept > 0) grew_.notify_all();
}

std::string CaptureCharBackend::text() const {
  std::lock_guard lock(mutex_);
  return buffer_;
}

size_t CaptureCharBackend::size() const {
  std::lock_guard lock(mutex_);
  return buffer_.size();
}

void CaptureCharBackend::clear() {
  std::lock_guard lock(mutex_);
  buffer_.clear();  // keeps the reserved capacity
}

bool CaptureCharBackend::wait_for(std::string_view needle, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return grew_.wait_for(lock, timeout, [&] { return std::string_view(buffer_).find(needle) != std::string_view::npos; });
}

}  // namespace kvpc
