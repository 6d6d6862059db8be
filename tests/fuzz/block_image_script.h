// Drives an opened BlockImage (raw, VHD) with a script of reads, writes and flushes decoded
// from the fuzzer's bytes, checking the BlockImage contract (storage/block_image.h) against a
// shadow copy of every sector the script wrote or read:
//   * a transfer that is not whole sectors inside the disk fails, and a write to a read-only
//     disk fails;
//   * a successful read returns what the shadow holds (the last write, or the first read of
//     a sector never written: reads are stable and writes disturb no other sector);
//   * the disk's size never changes;
//   * the image's resulting bytes open again, with the same format and size, and read back
//     every shadowed sector the same (nothing acknowledged is lost in the file).
//
// Script step: op byte (kind = op % 4: read, write, flush, unaligned access), then a u32
// sector (taken modulo sectors + 4, so the last steps run past the end), a u8 sector count
// (modulo kMaxSectors + 1, so zero-length transfers happen too), then for writes a fill byte
// and for unaligned accesses a skew byte.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "storage/backing_file.h"
#include "storage/block_image.h"
#include "tests/fuzz/fuzz_input.h"

namespace kvpc::fuzz {

inline constexpr size_t kMaxBlockScriptSteps = 64;
inline constexpr uint32_t kMaxSectors = 16;

using ReopenImage = std::function<Result<std::unique_ptr<BlockImage>>(std::vector<uint8_t>)>;

// allow_writes=false turns writes into reads (for images whose writes would cost too much
// memory in a fuzzer, e.g. a VHD with 256 MiB blocks).
inline void run_block_image_script(BlockImage& image, const MemoryBackingFile& file, FuzzInput& in,
                                   const ReopenImage& reopen, bool allow_writes = true) {
  constexpr uint32_t kSector = BlockImage::kSectorSize;
  const uint64_t size = image.size_bytes();
  const uint64_t sectors = size / kSector;
  KVPC_FUZZ_CHECK(size % kSector == 0);
  std::map<uint64_t, std::vector<uint8_t>> shadow;
  std::vector<uint8_t> buffer;
  for (size_t step = 0; step < kMaxBlockScriptSteps && !in.empty(); ++step) {
    unsigned kind = in.u8() % 4;
    const uint64_t sector = in.u32() % (sectors + 4);
    const uint32_t count = in.u8() % (kMaxSectors + 1);
    const uint8_t fill = kind == 1 ? in.u8() : 0;  // read even when writes are off: same script, same parse
    if (kind == 1 && !allow_writes) kind = 0;
    const bool inside = sector + count <= sectors;
    buffer.assign(size_t{count} * kSector, 0);
    switch (kind) {
      case 0: {  // read
        Status status = image.read(sector * kSector, buffer);
        KVPC_FUZZ_CHECK(status.ok() == inside);
        if (!status.ok()) break;
        for (uint32_t i = 0; i < count; ++i) {
          std::vector<uint8_t> got(buffer.begin() + i * kSector, buffer.begin() + (i + 1) * kSector);
          auto [it, fresh] = shadow.try_emplace(sector + i, got);
          KVPC_FUZZ_CHECK(fresh || it->second == got);
        }
        break;
      }
      case 1: {  // write, then read the same sectors back
        for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<uint8_t>(fill + i * 7 + i / kSector);
        Status status = image.write(sector * kSector, buffer);
        KVPC_FUZZ_CHECK(!status.ok() || (inside && !image.read_only()));
        if (inside && !image.read_only()) KVPC_FUZZ_CHECK(status.ok());  // memory never fails
        if (!status.ok()) break;
        for (uint32_t i = 0; i < count; ++i) {
          shadow[sector + i].assign(buffer.begin() + i * kSector, buffer.begin() + (i + 1) * kSector);
        }
        std::vector<uint8_t> back(buffer.size());
        KVPC_FUZZ_CHECK(image.read(sector * kSector, back).ok());
        KVPC_FUZZ_CHECK(back == buffer);
        break;
      }
      case 2:
        KVPC_FUZZ_CHECK(image.flush().ok());
        break;
      default: {  // not whole sectors: offset or length off by a few bytes
        const uint32_t skew = 1 + in.u8() % (kSector - 1);
        const bool skew_offset = (skew & 1) != 0;
        const uint64_t offset = sector * kSector + (skew_offset ? skew : 0);
        buffer.resize(buffer.size() + (skew_offset ? 0 : skew));
        KVPC_FUZZ_CHECK(!image.read(offset, buffer).ok());
        KVPC_FUZZ_CHECK(!image.write(offset, buffer).ok());
      }
    }
    KVPC_FUZZ_CHECK(image.size_bytes() == size);
  }
  KVPC_FUZZ_CHECK(image.flush().ok());

  // The file as the script left it must open again and hold the same data.
  auto reopened = reopen(file.bytes());
  if (!reopened.ok()) std::fprintf(stderr, "reopen: %s\n", reopened.error().message.c_str());
  KVPC_FUZZ_CHECK(reopened.ok());
  BlockImage& again = **reopened;
  KVPC_FUZZ_CHECK(again.format_name() == image.format_name());
  KVPC_FUZZ_CHECK(again.size_bytes() == size);
  std::vector<uint8_t> got(kSector);
  for (const auto& [at, want] : shadow) {
    KVPC_FUZZ_CHECK(again.read(at * kSector, got).ok());
    KVPC_FUZZ_CHECK(got == want);
  }
}

}  // namespace kvpc::fuzz
