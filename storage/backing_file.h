// BackingFile: the bytes an image format lives in — a host file, or a buffer in memory.
//
// Image formats (raw, VHD) are written against this interface rather than a file descriptor
// so the parsers run on a byte buffer too: unit tests build corrupt images in memory and the
// fuzz targets feed arbitrary bytes without touching the file system.
//
// Short reads past the end are errors, not zero fill: a format must check offsets against
// size() first, so a read beyond the end means the image lied about its layout.
//
// Concurrency contract: not thread-safe; one owner (the image) calls it from one thread at
// a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

class BackingFile {
 public:
  virtual ~BackingFile() = default;
  virtual std::string_view describe() const = 0;  // the path, for error messages
  virtual uint64_t size() const = 0;
  virtual bool writable() const = 0;
  // Reads exactly out.size() bytes at offset.
  virtual Status read_at(uint64_t offset, std::span<uint8_t> out) = 0;
  // Writes exactly in.size() bytes at offset; writing past the end grows the file.
  virtual Status write_at(uint64_t offset, std::span<const uint8_t> in) = 0;
  // Makes every write so far durable (fdatasync for files; nothing for memory).
  virtual Status sync() = 0;
};

// A host file. open() takes an advisory lock (flock: shared for read-only, exclusive for
// read-write) so two kvpc processes cannot write one image at once.
class FdBackingFile final : public BackingFile {
 public:
  static Result<std::unique_ptr<FdBackingFile>> open(const std::string& path, bool read_only);
  ~FdBackingFile() override;
  FdBackingFile(const FdBackingFile&) = delete;
  FdBackingFile& operator=(const FdBackingFile&) = delete;

  std::string_view describe() const override { return path_; }
  uint64_t size() const override { return size_; }
  bool writable() const override { return !read_only_; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override;
  Status write_at(uint64_t offset, std::span<const uint8_t> in) override;
  Status sync() override;

 private:
  FdBackingFile(std::string path, int fd, uint64_t size, bool read_only)
      : path_(std::move(path)), fd_(fd), size_(size), read_only_(read_only) {}
  std::string path_;
  int fd_;
  uint64_t size_;
  bool read_only_;
};

// Bytes in memory, for tests and fuzzing. sync() counts calls so tests can check ordering.
class MemoryBackingFile final : public BackingFile {
 public:
  explicit MemoryBackingFile(std::vector<uint8_t> bytes, bool read_only = false)
      : bytes_(std::move(bytes)), read_only_(read_only) {}
  std::string_view describe() const override { return "(memory)"; }
  uint64_t size() const override { return bytes_.size(); }
  bool writable() const override { return !read_only_; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override;
  Status write_at(uint64_t offset, std::span<const uint8_t> in) override;
  Status sync() override {
    ++syncs_;
    return ok_status();
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  uint32_t syncs() const { return syncs_; }

 private:
  std::vector<uint8_t> bytes_;
  bool read_only_;
  uint32_t syncs_ = 0;
};

}  // namespace kvpc
