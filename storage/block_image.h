// BlockImage: a virtual disk as the guest sees it — size_bytes() of 512-byte sectors — on
// top of an image file in some format (raw, VHD).
//
// Write semantics (docs/storage.md "Guarantees"): write() returns once the bytes have been
// handed to the host kernel (pwrite), so they survive a crash of kvpc itself; flush() makes
// every completed write durable against a host crash or power loss (fdatasync). This is a
// write-back disk with an explicit flush, the contract virtio-blk's VIRTIO_BLK_F_FLUSH
// announces to the guest. Metadata a format must update for a write (a VHD block allocation)
// is ordered so that a crash never leaves metadata pointing at data that was not written.
//
// Every offset and length must be a multiple of kSectorSize and lie inside the disk;
// anything else is an error (never a partial transfer).
//
// Concurrency contract: not thread-safe. Each disk has one I/O thread (its virtio-blk
// worker) that makes every call; set-up code opens it before that thread starts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "storage/backing_file.h"
#include "vmm/result.h"

namespace kvpc {

class BlockImage {
 public:
  static constexpr uint32_t kSectorSize = 512;

  virtual ~BlockImage() = default;
  virtual std::string_view format_name() const = 0;  // "raw", "vhd-fixed", "vhd-dynamic"
  virtual uint64_t size_bytes() const = 0;
  virtual bool read_only() const = 0;
  virtual Status read(uint64_t offset, std::span<uint8_t> out) = 0;
  virtual Status write(uint64_t offset, std::span<const uint8_t> in) = 0;
  virtual Status flush() = 0;

 protected:
  // Shared argument check: sector-aligned, inside the disk, writable when writing.
  Status check_range(uint64_t offset, uint64_t length, bool writing) const;
};

enum class ImageFormat { kAuto, kRaw, kVhd };

Result<ImageFormat> parse_image_format(std::string_view text);  // "raw", "vhd", "auto"

// Opens an image. kAuto picks VHD when the file ends in a "conectix" footer (or the name
// ends in .vhd, so a damaged VHD gets a VHD error rather than being served raw), else raw.
Result<std::unique_ptr<BlockImage>> open_block_image(const std::string& path, ImageFormat format, bool read_only);

// The same on any BackingFile (tests, fuzzing).
Result<std::unique_ptr<BlockImage>> open_block_image(std::unique_ptr<BackingFile> file, ImageFormat format);

}  // namespace kvpc
