#include "storage/backing_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {

Result<std::unique_ptr<FdBackingFile>> FdBackingFile::open(const std::string& path, bool read_only) {
  int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return make_error(fmt::format("{}: {}", path, std::strerror(errno)));
  if (::flock(fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK) {
      return make_error(fmt::format("{}: the image is in use by another process (it holds a lock on the file)", path));
    }
    return make_error(fmt::format("{}: locking: {}", path, std::strerror(saved)));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int saved = errno;
    ::close(fd);
    return make_error(fmt::format("{}: {}", path, std::strerror(saved)));
  }
  if (!S_ISREG(info.st_mode) && !S_ISBLK(info.st_mode)) {
    ::close(fd);
    return make_error(fmt::format("{}: not a regular file or block device", path));
  }
  uint64_t size = static_cast<uint64_t>(info.st_size);
  if (S_ISBLK(info.st_mode)) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    size = end < 0 ? 0 : static_cast<uint64_t>(end);
  }
  return std::unique_ptr<FdBackingFile>(new FdBackingFile(path, fd, size, read_only));
}

FdBackingFile::~FdBackingFile() { ::close(fd_); }

Status FdBackingFile::read_at(uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(fmt::format("{}: read at {}: {}", path_, offset + done, std::strerror(errno)));
    if (n == 0) return make_error(fmt::format("{}: read at {}: unexpected end of file", path_, offset + done));
    done += static_cast<size_t>(n);
  }
  return ok_status();
}

Status FdBackingFile::write_at(uint64_t offset, std::span<const uint8_t> in) {
  if (read_only_) return make_error(fmt::format("{}: opened read-only", path_));
  size_t done = 0;
  while (done < in.size()) {
    ssize_t n = ::pwrite(fd_, in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(fmt::format("{}: write at {}: {}", path_, offset + done, std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  if (offset + in.size() > size_) size_ = offset + in.size();
  return ok_status();
}

Status FdBackingFile::sync() {
  if (read_only_) return ok_status();
  if (::fdatasync(fd_) != 0) return make_error(fmt::format("{}: fdatasync: {}", path_, std::strerror(errno)));
  return ok_status();
}

Status MemoryBackingFile::read_at(uint64_t offset, std::span<uint8_t> out) {
  if (offset > bytes_.size() || out.size() > bytes_.size() - offset) {
    return make_error(fmt::format("(memory): read at {}: unexpected end of file", offset));
  }
  // An empty span's data() may be null, and memcpy from/to null is undefined even for 0
  // bytes (UBSan, found by the vhd fuzz target with a zero-sector read).
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  return ok_status();
}

Status MemoryBackingFile::write_at(uint64_t offset, std::span<const uint8_t> in) {
  if (read_only_) return make_error("(memory): opened read-only");
  constexpr uint64_t kLimit = 1ULL << 32;  // tests and fuzzing only: keep a bogus offset from eating RAM
  if (offset > kLimit || in.size() > kLimit - offset) return make_error("(memory): write beyond 4 GiB");
  if (offset + in.size() > bytes_.size()) bytes_.resize(offset + in.size());
  if (!in.empty()) std::memcpy(bytes_.data() + offset, in.data(), in.size());
  return ok_status();
}

}  // namespace kvpc
