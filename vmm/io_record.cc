#include "vmm/io_record.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kvpc {

namespace {

constexpr size_t kBufferBytes = 1 << 20;

uint8_t log2_size(uint8_t size) {
  switch (size) {
    case 1: return 0;
    case 2: return 1;
    case 4: return 2;
    default: return 3;
  }
}

}  // namespace

Result<std::unique_ptr<IoRecorder>> IoRecorder::create(const std::string& path, const io_record::Header& header) {
  std::FILE* file = std::fopen(path.c_str(), "wbe");
  if (file == nullptr) return make_error(fmt::format("--record-io {}: {}", path, strerror(errno)));
  // Unbuffered stdio: buffer_ already batches the writes, and a buffered FILE would allocate
  // its buffer at the first fwrite, calling fstat on the vCPU thread, whose seccomp filter
  // forbids it (kvpc stopped with exit status 12 once the first batch filled up).
  std::setvbuf(file, nullptr, _IONBF, 0);
  auto recorder = std::unique_ptr<IoRecorder>(new IoRecorder(file, path));
  // Header: magic, u16 version, u16 config length, config block.
  std::vector<uint8_t> config;
  auto le = [&config](uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) config.push_back(static_cast<uint8_t>(value >> (8 * i)));
  };
  le(header.ram_bytes, 8);
  le(header.cpus, 4);
  const std::string accel = header.accelerator.substr(0, 255);
  const std::string name = header.name.substr(0, 255);
  le(accel.size(), 1);
  config.insert(config.end(), accel.begin(), accel.end());
  le(name.size(), 1);
  config.insert(config.end(), name.begin(), name.end());
  recorder->put(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(io_record::kMagic), 8));
  recorder->put_le(io_record::kVersion, 2);
  recorder->put_le(config.size(), 2);
  recorder->put(config);
  return recorder;
}

IoRecorder::IoRecorder(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {
  buffer_.reserve(kBufferBytes);
}

IoRecorder::~IoRecorder() {
  if (file_ != nullptr) (void)finish();
}

void IoRecorder::put(std::span<const uint8_t> bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  if (buffer_.size() >= kBufferBytes - 64) write_out();
}

void IoRecorder::put_le(uint64_t value, int bytes) {
  uint8_t out[8];
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
  put(std::span<const uint8_t>(out, static_cast<size_t>(bytes)));
}

void IoRecorder::write_out() {
  if (buffer_.empty() || file_ == nullptr) return;
  if (!failed_ && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    failed_ = true;
    error_ = fmt::format("--record-io {}: write failed: {}", path_, strerror(errno));
  }
  buffer_.clear();
}

void IoRecorder::access(const observe::Access& access) {
  const bool mmio = access.space == observe::Space::kMmio;
  const uint8_t size = access.size == 1 || access.size == 2 || access.size == 4 ? access.size : 8;
  put_u8(static_cast<uint8_t>((mmio ? io_record::kMmio : io_record::kPio) | (access.write ? 0x8 : 0) |
                              log2_size(size)));
  put_u8(static_cast<uint8_t>(std::min<uint32_t>(access.vcpu, 255)));
  put_le(access.address, mmio ? 8 : 2);
  put_le(access.value, size);
  ++records_;
}

void IoRecorder::irq(uint32_t gsi, bool level) {
  put_u8(static_cast<uint8_t>(io_record::kIrq | (level ? 1 : 0)));
  put_le(gsi, 2);
  ++records_;
}

void IoRecorder::input(observe::Input kind, std::span<const uint8_t> payload) {
  put_u8(static_cast<uint8_t>(io_record::kInput | static_cast<uint8_t>(kind)));
  put_le(payload.size(), 4);
  put(payload);
  ++records_;
}

void IoRecorder::board_created() {
  std::lock_guard lock(mutex_);
  // The first board is implied by the header; later ones mark a guest reset.
  if (boards_++ == 0) return;
  put_u8(io_record::kBoard);
  ++records_;
}

Status IoRecorder::finish() {
  std::lock_guard lock(mutex_);
  if (file_ == nullptr) return failed_ ? make_error(error_) : ok_status();
  put_u8(io_record::kEnd);
  put_le(records_, 8);
  write_out();
  if (std::fclose(file_) != 0 && !failed_) {
    failed_ = true;
    error_ = fmt::format("--record-io {}: {}", path_, strerror(errno));
  }
  file_ = nullptr;
  return failed_ ? make_error(error_) : ok_status();
}

}  // namespace kvpc
