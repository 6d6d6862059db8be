#include "vmm/machine/io_replay.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "vmm/machine/board.h"

namespace kvpc {

namespace {

constexpr uint64_t kMaxReplayRam = 64ULL << 30;   // a header asking for more is not a recording of ours
constexpr uint32_t kMaxInputPayload = 1U << 20;

struct IrqEvent {
  uint32_t gsi;
  bool level;
};

std::string irq_text(const IrqEvent& event) {
  return fmt::format("gsi {} {}", event.gsi, event.level ? "raised" : "lowered");
}

// The accelerator half a Board needs, without a CPU: interrupt lines are collected for
// comparison, ioeventfds are not needed (a doorbell write reaches the device through the bus).
class ReplayVmBackend final : public VmBackend {
 public:
  std::string_view accelerator() const override { return "replay"; }
  Status map_memory(const GuestMemory&) override { return ok_status(); }
  Result<std::unique_ptr<VcpuBackend>> create_vcpu(uint32_t) override {
    return make_error("a replay runs no vCPU");
  }
  // Only level changes are events, as GsiIrqLine records them; every line starts low.
  void set_irq(uint32_t gsi, bool asserted) override {
    bool& level = levels[gsi];
    if (level == asserted) return;
    level = asserted;
    produced.push_back({gsi, asserted});
  }
  Status add_ioeventfd(IoSpace, uint64_t, uint32_t, int, std::optional<uint64_t>) override { return ok_status(); }
  // A replayed guest may move a BAR again (the recorded config writes): nothing to undo here.
  Status remove_ioeventfd(IoSpace, uint64_t, uint32_t, int, std::optional<uint64_t>) override { return ok_status(); }
  // No guest runs, so no page is ever dirtied.
  Status fetch_dirty_log(const MemoryRegion&, std::span<uint64_t> bitmap) override {
    std::fill(bitmap.begin(), bitmap.end(), uint64_t{0});
    return ok_status();
  }

  std::deque<IrqEvent> produced;
  std::map<uint32_t, bool> levels;
};

class ReplayPower final : public PowerControl {
 public:
  void request_poweroff(int) override {}
  void request_reset() override {}
};

// One board's worth of devices (rebuilt at every kBoard record, as the VM rebuilt its machine).
struct ReplayMachine {
  GuestMemory memory;
  ReplayVmBackend backend;
  ReplayPower power;
  PioBus pio;
  MmioBus mmio;
  MmioBus::Cache cache;
  std::unique_ptr<Board> board;

  explicit ReplayMachine(GuestMemory m) : memory(std::move(m)) {}
};

Result<std::unique_ptr<ReplayMachine>> build_machine(const io_record::Header& header) {
  auto memory = GuestMemory::create_pc(header.ram_bytes);
  if (!memory) return make_error(fmt::format("rebuilding guest memory of the recording: {}", memory.error().message));
  auto machine = std::make_unique<ReplayMachine>(std::move(memory).value());
  // The same device memory the recorded VM had (the VGA framebuffer), as Machine::create adds it.
  if (auto status = Board::add_device_memory(machine->memory); !status) {
    return make_error(fmt::format("rebuilding the devices' memory: {}", status.error().message));
  }
  MachineConfig config;
  config.ram_bytes = header.ram_bytes;
  config.cpus = header.cpus;
  config.serial = "none";
  config.debugcon = "none";
  auto board = Board::create(config, machine->backend, machine->memory, machine->pio, machine->mmio, machine->power,
                             nullptr, nullptr);
  if (!board) return make_error(fmt::format("rebuilding the devices: {}", board.error().message));
  machine->board = std::move(board).value();
  // Lines the devices set while being built (the i8042's IRQ 1 starts low, the PIRQ lines take
  // their idle levels) happened before the recorded VM's recorder existed: not part of the stream.
  machine->backend.produced.clear();
  machine->pio.freeze();
  machine->mmio.freeze();
  return machine;
}

class Reader {
 public:
  Reader(std::span<const uint8_t> data, size_t pos) : data_(data), pos_(pos) {}
  bool has(size_t n) const { return data_.size() - pos_ >= n; }
  uint64_t le(int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value |= uint64_t{data_[pos_ + static_cast<size_t>(i)]} << (8 * i);
    pos_ += static_cast<size_t>(bytes);
    return value;
  }
  std::span<const uint8_t> take(size_t n) {
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  std::span<const uint8_t> data_;
  size_t pos_;
};

}  // namespace

Result<io_record::Header> parse_io_record_header(std::span<const uint8_t> file, size_t* header_bytes) {
  if (file.size() < 12) {
    return make_error(fmt::format("not a kvpc I/O recording: {} bytes is shorter than the 12-byte header", file.size()));
  }
  if (std::memcmp(file.data(), io_record::kMagic, sizeof(io_record::kMagic)) != 0) {
    return make_error("not a kvpc I/O recording: the file does not start with the KVPCIOR magic");
  }
  Reader reader(file, 8);
  io_record::Header header;
  header.version = static_cast<uint16_t>(reader.le(2));
  if (header.version != io_record::kVersion) {
    return make_error(fmt::format("I/O recording format version {} is not supported (this kvpc reads version {})",
                                  header.version, io_record::kVersion));
  }
  const auto config_bytes = static_cast<size_t>(reader.le(2));
  if (!reader.has(config_bytes) || config_bytes < 14) {
    return make_error("the I/O recording's header is cut short or malformed");
  }
  Reader config(reader.take(config_bytes), 0);
  header.ram_bytes = config.le(8);
  header.cpus = static_cast<uint32_t>(config.le(4));
  const auto accel_length = static_cast<size_t>(config.le(1));
  if (!config.has(accel_length + 1)) return make_error("the I/O recording's header is malformed (accelerator name)");
  auto accel = config.take(accel_length);
  header.accelerator.assign(accel.begin(), accel.end());
  const auto name_length = static_cast<size_t>(config.le(1));
  if (!config.has(name_length)) return make_error("the I/O recording's header is malformed (VM name)");
  auto name = config.take(name_length);
  header.name.assign(name.begin(), name.end());
  if (header.ram_bytes == 0 || header.ram_bytes > kMaxReplayRam || header.cpus == 0 || header.cpus > 255) {
    return make_error(fmt::format("the I/O recording's header is malformed (memory {} bytes, {} vCPUs)",
                                  header.ram_bytes, header.cpus));
  }
  if (header_bytes != nullptr) *header_bytes = reader.pos();
  return header;
}

Result<ReplayReport> replay_io(std::span<const uint8_t> file) {
  size_t header_bytes = 0;
  auto header = parse_io_record_header(file, &header_bytes);
  if (!header) return header.error();
  ReplayReport report;
  report.header = *header;
  auto built = build_machine(*header);
  if (!built) return built.error();
  std::unique_ptr<ReplayMachine> machine = std::move(built).value();

  Reader reader(file, header_bytes);
  std::deque<IrqEvent> expected;
  uint64_t irq_index = 0;
  std::string last_access = "before the first access";
  auto truncated = [&](uint64_t record) {
    return make_error(fmt::format("the I/O recording is truncated: record {} at byte {} is cut short", record,
                                  reader.pos()));
  };
  // Pairs recorded and replayed interrupt events; false (and report.mismatch) on a difference.
  auto compare_irqs = [&](uint64_t record) {
    while (!expected.empty() && !machine->backend.produced.empty()) {
      IrqEvent want = expected.front(), got = machine->backend.produced.front();
      expected.pop_front();
      machine->backend.produced.pop_front();
      if (want.gsi != got.gsi || want.level != got.level) {
        report.mismatch = fmt::format("interrupt event #{} (record {}, {}): recorded {}, replay {}", irq_index, record,
                                      last_access, irq_text(want), irq_text(got));
        report.mismatch_record = record;
        return false;
      }
      ++irq_index;
    }
    return true;
  };

  for (uint64_t record = 0;; ++record) {
    if (reader.at_end()) {
      return make_error(fmt::format(
          "the I/O recording is truncated after {} records: there is no end marker (was kvpc killed while recording?)",
          record));
    }
    const uint8_t tag = static_cast<uint8_t>(reader.le(1));
    const uint8_t kind = tag & 0xF0;
    if (kind == io_record::kPio || kind == io_record::kMmio) {
      const bool mmio = kind == io_record::kMmio;
      const bool write = (tag & 0x8) != 0;
      const unsigned size = 1u << (tag & 0x7);
      if ((tag & 0x7) > 3 || (!mmio && size > 4)) {
        return make_error(fmt::format("record {} at byte {}: bad access size code {:#x}", record, reader.pos() - 1, tag));
      }
      const int address_bytes = mmio ? 8 : 2;
      if (!reader.has(1 + static_cast<size_t>(address_bytes) + size)) return truncated(record);
      const auto vcpu = static_cast<uint32_t>(reader.le(1));
      const uint64_t address = reader.le(address_bytes);
      const uint64_t value = reader.le(static_cast<int>(size));
      uint8_t buffer[8];
      std::span<uint8_t> data(buffer, size);
      store_le(data, value);
      IoDevice* device = nullptr;
      uint64_t offset = 0;
      if (mmio) {
        device = write ? machine->mmio.write(address, data, machine->cache) : machine->mmio.read(address, data, machine->cache);
        if (device != nullptr) offset = address - machine->cache.last->base;
      } else {
        const auto port = static_cast<uint16_t>(address);
        device = write ? machine->pio.write(port, data) : machine->pio.read(port, data);
        if (device != nullptr) offset = static_cast<uint16_t>(port - machine->pio.range_base(port));
      }
      const std::string where =
          device != nullptr ? fmt::format("{}+{:#x}", device->name(), offset) : std::string("unclaimed");
      last_access = fmt::format("access #{}: cpu{} {} {} {} {:#x} ({}) size {}", report.accesses, vcpu,
                                mmio ? "mmio" : "pio", write ? "write" : "read", mmio ? "address" : "port", address,
                                where, size);
      if (!write) {
        const uint64_t got = load_le(data);
        ++report.reads_checked;
        if (got != value) {
          report.mismatch = fmt::format("{} (record {}): recorded answer {:#x}, replay answered {:#x}", last_access,
                                        record, value, got);
          report.mismatch_record = record;
          report.records = record + 1;
          return report;
        }
      }
      ++report.accesses;
    } else if (kind == io_record::kIrq) {
      if ((tag & 0x0E) != 0) return make_error(fmt::format("record {}: bad interrupt tag {:#x}", record, tag));
      if (!reader.has(2)) return truncated(record);
      expected.push_back({static_cast<uint32_t>(reader.le(2)), (tag & 1) != 0});
      ++report.interrupts;
    } else if (kind == io_record::kInput) {
      if (!reader.has(4)) return truncated(record);
      const auto length = static_cast<uint32_t>(reader.le(4));
      if (length > kMaxInputPayload) {
        return make_error(fmt::format("record {}: host input of {} bytes is larger than any kvpc records", record, length));
      }
      if (!reader.has(length)) return truncated(record);
      auto payload = reader.take(length);
      Board& board = *machine->board;
      auto epoch_of = [&payload] {
        uint64_t epoch = 0;
        for (int i = 0; i < 8; ++i) epoch |= uint64_t{payload[static_cast<size_t>(i)]} << (8 * i);
        return epoch;
      };
      auto bad_payload = [&] {
        return make_error(fmt::format("record {}: host input {:#x} has a malformed payload of {} bytes", record, tag,
                                      length));
      };
      switch (static_cast<observe::Input>(tag & 0x0F)) {
        case observe::Input::kSerialBytes:
          board.serial_input(payload);
          break;
        case observe::Input::kIntegrationSignalRx:
          if (length != 9) return bad_payload();
          board.integration().signal_rx(epoch_of(), payload[8] != 0);
          break;
        case observe::Input::kIntegrationCountError:
          if (length != 9 || payload[8] >= proto::kLinkErrorCount) return bad_payload();
          board.integration().count_error(epoch_of(), static_cast<proto::LinkError>(payload[8]));
          break;
        case observe::Input::kIntegrationHostReset:
          if (length != 0) return bad_payload();
          board.integration().host_reset_link();
          break;
        case observe::Input::kIntegrationReset:
          if (length != 0) return bad_payload();
          board.integration().reset();
          break;
        default:
          return make_error(fmt::format("record {}: unknown host input kind {:#x}", record, tag));
      }
      ++report.inputs;
    } else if (tag == io_record::kBoard) {
      if (!compare_irqs(record)) return report;
      if (!expected.empty() || !machine->backend.produced.empty()) {
        report.mismatch = fmt::format("interrupt events differ before the guest reset at record {}", record);
        report.mismatch_record = record;
        return report;
      }
      auto rebuilt = build_machine(*header);
      if (!rebuilt) return rebuilt.error();
      machine = std::move(rebuilt).value();
      ++report.boards;
    } else if (tag == io_record::kEnd) {
      if (!reader.has(8)) return truncated(record);
      const uint64_t count = reader.le(8);
      if (count != record) {
        return make_error(fmt::format("the I/O recording is damaged: its end marker counts {} records, the file has {}",
                                      count, record));
      }
      if (!reader.at_end()) {
        return make_error(fmt::format("the I/O recording has {} unexpected bytes after its end marker",
                                      file.size() - reader.pos()));
      }
      report.records = record;
      if (!compare_irqs(record)) return report;
      if (!expected.empty()) {
        report.mismatch = fmt::format("interrupt event #{}: recorded {}, but the replayed devices never did it",
                                      irq_index, irq_text(expected.front()));
        report.mismatch_record = record;
      } else if (!machine->backend.produced.empty()) {
        report.mismatch = fmt::format("interrupt event #{}: the replayed devices {}, which the recording does not have",
                                      irq_index, irq_text(machine->backend.produced.front()));
        report.mismatch_record = record;
      }
      return report;
    } else {
      return make_error(fmt::format("record {} at byte {}: unknown record tag {:#04x}", record, reader.pos() - 1, tag));
    }
    if (!compare_irqs(record)) {
      report.records = record + 1;
      return report;
    }
  }
}

}  // namespace kvpc
