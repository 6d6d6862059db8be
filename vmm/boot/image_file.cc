#include "vmm/boot/image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {
namespace {

// Closes the descriptor on every return path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string too_big(const std::string& path, uint64_t size, uint64_t max_bytes, bool at_least) {
  return fmt::format("'{}' is {}{} bytes, more than the limit of {} bytes", path, at_least ? "at least " : "", size,
                     max_bytes);
}

}  // namespace

Result<std::vector<uint8_t>> read_image_file(const std::string& path, uint64_t max_bytes) {
  if (path.empty()) return make_error("no file name given");
  FileDescriptor file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    int error = errno;
    if (error == ENOENT) return make_error(fmt::format("'{}' does not exist", path));
    if (error == EACCES) return make_error(fmt::format("'{}' is not readable: permission denied", path));
    return make_error(fmt::format("cannot open '{}': {}", path, strerror(error)));
  }
  struct stat info {};
  if (fstat(file.get(), &info) != 0) {
    return make_error(fmt::format("cannot stat '{}': {}", path, strerror(errno)));
  }
  if (S_ISDIR(info.st_mode)) return make_error(fmt::format("'{}' is a directory, not an image file", path));
  if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > max_bytes) {
    return make_error(too_big(path, static_cast<uint64_t>(info.st_size), max_bytes, false));
  }

  // Read to EOF rather than trusting st_size: files in /proc report 0, pipes report
  // nothing, and a file may change under us. One byte past the limit proves it too big.
  std::vector<uint8_t> bytes;
  if (S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
  uint8_t chunk[64 * 1024];
  for (;;) {
    ssize_t got = read(file.get(), chunk, sizeof(chunk));
    if (got < 0) {
      if (errno == EINTR) continue;
      return make_error(fmt::format("cannot read '{}': {}", path, strerror(errno)));
    }
    if (got == 0) break;
    if (static_cast<uint64_t>(got) > max_bytes - bytes.size()) {
      return make_error(too_big(path, bytes.size() + static_cast<uint64_t>(got), max_bytes, true));
    }
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  if (bytes.empty()) return make_error(fmt::format("'{}' is empty", path));
  return bytes;
}

}  // namespace kvpc
