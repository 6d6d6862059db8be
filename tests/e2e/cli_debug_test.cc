// The debugging verbs end to end under --accel emu: `kvpc stats`, `--trace`/`kvpc trace`,
// `kvpc inspect`, `--record-io` + `kvpc replay` (docs/debugging.md).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/e2e/kvpc_process.h"

namespace kvpc {
namespace {

using namespace std::chrono_literals;
using testing::KvpcProcess;
using testing::run_kvpc;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class DebugCliTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_ = testing::make_runtime_dir(); }
  void TearDown() override {
    vm_.reset();
    std::filesystem::remove_all(runtime_);
  }
  std::string file(const std::string& name) const { return runtime_ + "/" + name; }

  void start(std::vector<std::string> args) {
    vm_ = std::make_unique<KvpcProcess>(args, runtime_);
  }
  void boot_builtin(const std::string& cmdline, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run", "--accel", "emu", "--name", "vm", "--mem", "32M", "--cmdline", cmdline};
    args.insert(args.end(), extra.begin(), extra.end());
    start(args);
    ASSERT_TRUE(vm_->wait_for_output("agent: ready", 60s)) << vm_->so_far().out << vm_->so_far().err;
  }
  nlohmann::json call_json(std::vector<std::string> args, int* status = nullptr) {
    args.push_back("--json");
    auto result = run_kvpc(args, runtime_, "", 60s);
    if (status) *status = result.status;
    auto parsed = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "stdout: " << result.out << "\nstderr: " << result.err;
    return parsed;
  }
  static const nlohmann::json* device_row(const nlohmann::json& stats, const std::string& name) {
    for (const auto& row : stats["total"]["devices"]) {
      if (row["device"] == name) return &row;
    }
    return nullptr;
  }
  // Polls `kvpc stats` until `done` holds for the VM's com1 row.
  nlohmann::json stats_when(const std::function<bool(const nlohmann::json&)>& done) {
    nlohmann::json stats;
    for (int i = 0; i < 300; ++i) {
      // Until the VM has its socket and its machine, the call fails: keep asking.
      auto answer = run_kvpc({"stats", "vm", "--json"}, runtime_, "", 60s);
      stats = nlohmann::json::parse(answer.out, nullptr, false);
      if (answer.status != 0 || stats.is_discarded()) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      const nlohmann::json* com1 = device_row(stats, "com1");
      if (com1 != nullptr && done(*com1)) return stats;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "stats never reached the expected state: " << stats.dump();
    return stats;
  }

  std::string runtime_;
  std::unique_ptr<KvpcProcess> vm_;
};

// serial_echo programs COM1 with exactly 7 register writes, then polls LSR; each echoed byte
// adds one RBR read and one THR write.
TEST_F(DebugCliTest, StatsCountTheRegisterAccessesOfAGuestThatMakesAKnownNumber) {
  start({"run", "--accel", "emu", "--name", "vm", "--mem", "32M", "--kernel", testing::guest_blob("serial_echo")});
  auto stats = stats_when([](const nlohmann::json& com1) { return com1["reads"].get<uint64_t>() > 0; });
  const nlohmann::json* com1 = device_row(stats, "com1");
  ASSERT_NE(com1, nullptr);
  EXPECT_EQ((*com1)["writes"], 7) << stats.dump();
  EXPECT_EQ((*com1)["space"], "pio");
  EXPECT_EQ((*com1)["base"], 0x3F8);
  EXPECT_EQ((*com1)["length"], 8);
  EXPECT_FALSE((*com1)["time_histogram"].empty());
  EXPECT_EQ(device_row(stats, "debug-exit")->at("writes"), 0);
  EXPECT_EQ(stats["vm"], "vm");
  EXPECT_EQ(stats["accelerator"], "emu");
  ASSERT_EQ(stats["vcpus"].size(), 1u);
  // Every port access was one IO exit (no string I/O in this guest). Paused, so the counters
  // cannot move between the reads of the two.
  EXPECT_EQ(run_kvpc({"pause", "vm"}, runtime_).status, 0);
  auto paused = call_json({"stats", "vm"});
  EXPECT_EQ(run_kvpc({"resume", "vm"}, runtime_).status, 0);
  const auto& vcpu = paused["vcpus"][0];
  EXPECT_EQ(vcpu["exits"]["IO"].get<uint64_t>(), vcpu["pio_reads"].get<uint64_t>() + vcpu["pio_writes"].get<uint64_t>())
      << paused.dump();
  EXPECT_EQ(vcpu["devices"][0]["device"], "com1") << paused.dump();

  vm_->write_stdin("ab");
  ASSERT_TRUE(vm_->wait_for_output("ab", 30s));
  stats = stats_when([](const nlohmann::json& row) { return row["writes"].get<uint64_t>() >= 9; });
  EXPECT_EQ(device_row(stats, "com1")->at("writes"), 9);

  // The human table and --watch with rates.
  auto table = run_kvpc({"stats", "vm"}, runtime_);
  EXPECT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("com1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("0x3f8-0x3ff"), std::string::npos) << table.out;
  auto watch = run_kvpc({"stats", "vm", "--watch", "--count", "2", "--interval", "0.2", "--json"}, runtime_);
  EXPECT_EQ(watch.status, 0) << watch.err;
  auto second_line = watch.out.substr(watch.out.find('\n') + 1);
  auto second = nlohmann::json::parse(second_line, nullptr, false);
  ASSERT_FALSE(second.is_discarded()) << watch.out;
  EXPECT_GT(second["interval_seconds"].get<double>(), 0.1);
  auto watch_text = run_kvpc({"stats", "vm", "--watch", "--count", "2", "--interval", "0.2"}, runtime_);
  EXPECT_NE(watch_text.out.find("per second"), std::string::npos) << watch_text.out;

  vm_->write_stdin("q");
  auto result = vm_->wait(30s);
  EXPECT_EQ(result.status, 0x25) << result.err;
}

TEST_F(DebugCliTest, StatsOfAnUnknownVmIsAClearError) {
  auto result = run_kvpc({"stats", "no-such-vm"}, runtime_);
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("there is no running VM named 'no-such-vm'"), std::string::npos) << result.err;
}

// pio_out: 'O', 'K', '\n' to debugcon, 0xBEEF to port 0x510 (word: fw_cfg's selector),
// 0xDEADBEEF to 0x514 (dword, unclaimed), 0x10 to isa-debug-exit.
TEST_F(DebugCliTest, TraceWritesOneLinePerPortAccessOfAKnownGuest) {
  const std::string trace = file("trace.txt");
  auto result = run_kvpc({"run", "--accel", "emu", "--mem", "32M", "--serial", "none", "--kernel",
                          testing::guest_blob("pio_out"), "--trace", "pio", "--trace-file", trace},
                         runtime_);
  EXPECT_EQ(result.status, 0x21) << result.err;
  const std::string text = read_text(trace);
  for (const char* line : {" cpu0 pio debugcon write port=0xe9 off=0x0 size=1 value=0x4f\n",
                           " cpu0 pio debugcon write port=0xe9 off=0x0 size=1 value=0x4b\n",
                           " cpu0 pio debugcon write port=0xe9 off=0x0 size=1 value=0xa\n",
                           " cpu0 pio fw_cfg write port=0x510 off=0x0 size=2 value=0xbeef\n",
                           " cpu0 pio unclaimed write port=0x514 off=0x0 size=4 value=0xdeadbeef\n",
                           " cpu0 pio debug-exit write port=0x501 off=0x0 size=1 value=0x10\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing" << line << "in:\n" << text;
  }
  // Exactly those six accesses, in order.
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 6u) << text;
  EXPECT_LT(text.find("value=0x4f"), text.find("value=0xdeadbeef"));
}

TEST_F(DebugCliTest, TraceIsSwitchedOnAndOffAtRunTime) {
  // serial_echo polls COM1's line status register between bytes: millions of identical reads a
  // second, which the tracer collapses into "last access repeated N times" records.
  const std::string trace = file("trace.txt");
  start({"run", "--accel", "emu", "--name", "vm", "--mem", "32M", "--kernel", testing::guest_blob("serial_echo"),
         "--trace-file", trace});
  stats_when([](const nlohmann::json& com1) { return com1["reads"].get<uint64_t>() > 0; });
  auto shown = call_json({"trace", "vm"});
  EXPECT_EQ(shown["categories"], "off");
  EXPECT_EQ(read_text(trace).size(), 0u) << "nothing is traced before tracing is switched on";
  auto on = call_json({"trace", "vm", "pio,irq"});
  EXPECT_EQ(on["ok"], true) << on.dump();
  EXPECT_EQ(on["categories"], "pio,irq");
  EXPECT_EQ(on["destination"], trace);
  vm_->write_stdin("z");
  ASSERT_TRUE(vm_->wait_for_output("z", 30s));
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    seen = read_text(trace).find("pio com1 write port=0x3f8 off=0x0 size=1 value=0x7a") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(50ms);
  }
  std::string text = read_text(trace);
  ASSERT_TRUE(seen) << text;
  // The guest read the byte (RBR) before echoing it, and polls the LSR around it: the poll's
  // first read has its line, the rest are counted.
  EXPECT_NE(text.find("pio com1 read port=0x3f8 off=0x0 size=1 value=0x7a"), std::string::npos) << text;
  EXPECT_LT(text.find("pio com1 read port=0x3f8 off=0x0 size=1 value=0x7a"),
            text.find("pio com1 write port=0x3f8 off=0x0 size=1 value=0x7a"));
  EXPECT_NE(text.find("pio com1 read port=0x3fd off=0x5 size=1"), std::string::npos) << text;
  EXPECT_NE(text.find(" cpu0 last access repeated "), std::string::npos) << text;
  // Bounded while the guest keeps polling: at one repeat record per 20 ms flush, a second of
  // polling adds a few KiB (one line per read made the file grow ~9 MB/s).
  const size_t size_before_poll = text.size();
  std::this_thread::sleep_for(1s);
  const size_t size_after_poll = read_text(trace).size();
  EXPECT_LT(size_after_poll - size_before_poll, 16u * 1024) << "the trace of a polling guest must stay small";
  EXPECT_GT(size_after_poll, size_before_poll) << "the poll goes on and its repeats are reported";
  auto off = call_json({"trace", "vm", "off"});
  EXPECT_EQ(off["categories"], "off");
  std::this_thread::sleep_for(200ms);  // the flusher writes what was traced before "off"
  const size_t size_after_off = read_text(trace).size();
  vm_->write_stdin("y");
  ASSERT_TRUE(vm_->wait_for_output("y", 30s));
  std::this_thread::sleep_for(200ms);
  text = read_text(trace);
  EXPECT_EQ(text.size(), size_after_off) << "tracing is off: nothing more is written";
  EXPECT_EQ(text.find("value=0x79"), std::string::npos) << "'y' was echoed with tracing off";
  int status = 0;
  auto bad = call_json({"trace", "vm", "pio,disk"}, &status);
  EXPECT_EQ(status, 10);
  EXPECT_NE(bad["message"].get<std::string>().find("unknown trace category 'disk'"), std::string::npos) << bad.dump();
  auto bad_run = run_kvpc({"run", "--accel", "emu", "--trace", "bogus", "--kernel", testing::guest_blob("pio_out")},
                          runtime_);
  EXPECT_EQ(bad_run.status, 2);
  EXPECT_NE(bad_run.err.find("--trace bogus: unknown category 'bogus'"), std::string::npos) << bad_run.err;
}

TEST_F(DebugCliTest, InspectShowsUartRegistersDevicesAndVcpuRegisters) {
  boot_builtin("users=alice");
  auto state = call_json({"inspect", "vm"});
  const auto& com1 = state["devices"]["com1"];
  ASSERT_TRUE(com1["state"]["registers"].contains("lcr")) << state.dump();
  EXPECT_EQ(com1["state"]["registers"]["lcr"], 0x03);  // the built-in guest runs COM1 at 8N1
  EXPECT_EQ(com1["ranges"][0]["base"], 0x3F8);
  ASSERT_EQ(state["vcpus"].size(), 1u);
  EXPECT_GT(state["vcpus"][0]["rip"].get<uint64_t>(), 0u);
  EXPECT_EQ(state["vcpus"][0]["rip"], state["vcpus"][0]["general"]["rip"]);
  EXPECT_TRUE(state["vcpus"][0]["segments"].contains("cs"));
  EXPECT_NE(state["vcpus"][0]["control"]["cr0"].get<uint64_t>() & 1, 0u);  // protected mode
  EXPECT_EQ(state["paused_to_read_registers"], true);
  EXPECT_TRUE(state["irqchip"]["pic"].contains("master")) << state["irqchip"].dump();
  const auto& pci = state["devices"]["pci-host-bridge"]["state"]["functions"];
  EXPECT_EQ(pci["00:02.0"]["name"], "kvpc-integration") << pci.dump();
  EXPECT_EQ(pci["00:02.0"]["config_space"].get<std::string>().size(), 512u);
  const auto& integration = state["devices"]["integration"];
  EXPECT_EQ(integration["state"]["attached"], true) << integration.dump();
  EXPECT_EQ(integration["services"]["agent_present"], true) << integration.dump();
  EXPECT_EQ(integration["services"]["channels"]["3"]["state"], "ready") << integration.dump();

  // The VM keeps running after the inspection.
  vm_->write_stdin("who\r");
  EXPECT_TRUE(vm_->wait_for_output("alice", 20s)) << vm_->so_far().out;

  auto one = call_json({"inspect", "vm", "com1"});
  EXPECT_EQ(one["devices"].size(), 1u) << one.dump();
  EXPECT_FALSE(one.contains("vcpus"));
  auto cpu = call_json({"inspect", "vm", "cpu0"});
  EXPECT_EQ(cpu["vcpus"].size(), 1u);
  EXPECT_FALSE(cpu.contains("devices"));
  int code = 0;
  auto missing = call_json({"inspect", "vm", "floppy"}, &code);
  EXPECT_EQ(code, 10);
  EXPECT_NE(missing["message"].get<std::string>().find("no device 'floppy'; there are:"), std::string::npos);
  auto text = run_kvpc({"inspect", "vm", "com1"}, runtime_);
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("lcr: 3"), std::string::npos) << text.out;
}

// The recording format's records, walked just enough to tamper with one (docs/io-recording.md).
size_t first_read_value_offset(const std::string& bytes) {
  size_t pos = 12 + (static_cast<uint8_t>(bytes[10]) | (static_cast<uint8_t>(bytes[11]) << 8));
  while (pos < bytes.size()) {
    const auto tag = static_cast<uint8_t>(bytes[pos]);
    const uint8_t kind = tag & 0xF0;
    if (kind == 0x10 || kind == 0x20) {
      const size_t address = kind == 0x10 ? 2 : 8;
      if ((tag & 0x8) == 0) return pos + 2 + address;
      pos += 2 + address + (size_t{1} << (tag & 7));
    } else if (kind == 0x30) {
      pos += 3;
    } else if (kind == 0x40) {
      uint32_t length = 0;
      for (int i = 0; i < 4; ++i) length |= uint32_t{static_cast<uint8_t>(bytes[pos + 1 + i])} << (8 * i);
      pos += 5 + length;
    } else if (tag == 0x50) {
      pos += 1;
    } else {
      break;
    }
  }
  return 0;
}

TEST_F(DebugCliTest, RecordedLogoffRunReplaysExactlyAndTamperingIsNamed) {
  const std::string recording = file("logoff.kvpcio");
  boot_builtin("users=alice", {"--record-io", recording});
  auto logoff = call_json({"logoff", "vm", "--wait"});
  EXPECT_EQ(logoff["hresult"], "0x00000000") << logoff.dump();
  EXPECT_TRUE(vm_->wait_for_output("logoff: alice", 10s));
  vm_->write_stdin("who\r");
  EXPECT_TRUE(vm_->wait_for_output("no one is logged on", 20s)) << vm_->so_far().out;
  EXPECT_EQ(run_kvpc({"stop", "vm"}, runtime_).status, 0);
  EXPECT_EQ(vm_->wait(30s).status, 0);

  int status = -1;
  auto replay = call_json({"replay", recording}, &status);
  EXPECT_EQ(status, 0) << replay.dump();
  EXPECT_EQ(replay["ok"], true) << replay.dump();
  EXPECT_EQ(replay["vm"], "vm");
  EXPECT_GT(replay["accesses"].get<uint64_t>(), 100u);
  EXPECT_GT(replay["reads_checked"].get<uint64_t>(), 10u);
  EXPECT_GT(replay["interrupts"].get<uint64_t>(), 0u);  // the integration device's INTA#
  EXPECT_GT(replay["inputs"].get<uint64_t>(), 0u);      // RX signals and the console "who"
  auto human = run_kvpc({"replay", recording}, runtime_);
  EXPECT_NE(human.out.find("match:"), std::string::npos) << human.out;

  // One recorded answer changed: the replay names that access and exits 1.
  std::string bytes = read_text(recording);
  const size_t value = first_read_value_offset(bytes);
  ASSERT_NE(value, 0u);
  bytes[value] = static_cast<char>(bytes[value] ^ 0x5A);
  const std::string tampered = file("tampered.kvpcio");
  write_bytes(tampered, bytes);
  auto mismatch = call_json({"replay", tampered}, &status);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(mismatch["ok"], false);
  EXPECT_NE(mismatch["mismatch"].get<std::string>().find("access #"), std::string::npos) << mismatch.dump();
  EXPECT_NE(mismatch["mismatch"].get<std::string>().find("recorded answer"), std::string::npos) << mismatch.dump();
  auto mismatch_text = run_kvpc({"replay", tampered}, runtime_);
  EXPECT_EQ(mismatch_text.status, 1);
  EXPECT_NE(mismatch_text.out.find("MISMATCH"), std::string::npos) << mismatch_text.out;

  // Cut short, and not a recording at all: clear errors, exit 2.
  const std::string original = read_text(recording);
  write_bytes(tampered, original.substr(0, original.size() - 5));
  auto cut = run_kvpc({"replay", tampered}, runtime_);
  EXPECT_EQ(cut.status, 2);
  EXPECT_NE(cut.err.find("truncated"), std::string::npos) << cut.err;
  write_bytes(tampered, "this is not a recording at all, just text\n");
  auto garbage = run_kvpc({"replay", tampered}, runtime_);
  EXPECT_EQ(garbage.status, 2);
  EXPECT_NE(garbage.err.find("not a kvpc I/O recording"), std::string::npos) << garbage.err;
  auto absent = run_kvpc({"replay", file("absent.kvpcio")}, runtime_);
  EXPECT_EQ(absent.status, 2);
}

// A recording bigger than the recorder's 1 MiB batch is written from the vCPU thread while the
// guest runs, under the vCPU's seccomp filter (on by default): that write must need no system
// call the filter forbids (a buffered FILE's first fwrite calls fstat: kvpc stopped with 12).
TEST_F(DebugCliTest, ARecordingLargerThanOneBatchIsWrittenUnderTheSandbox) {
  const std::string recording = file("many.kvpcio");
  start({"run", "--accel", "emu", "--name", "vm", "--mem", "32M", "--kernel", testing::guest_blob("mb_hello"),
         "--cmdline", "n=300000", "--record-io", recording});
  auto result = vm_->wait(120s);
  EXPECT_EQ(result.status, 1) << result.err;  // isa-debug-exit 0 -> 1: the guest ran to its end
  EXPECT_EQ(result.err.find("seccomp"), std::string::npos) << result.err;
  EXPECT_GT(std::filesystem::file_size(recording), uint64_t{1} << 20);
  int status = -1;
  auto replay = call_json({"replay", recording}, &status);
  EXPECT_EQ(status, 0) << replay.dump();
  EXPECT_EQ(replay["ok"], true) << replay.dump();
}

TEST_F(DebugCliTest, RecordedConsoleInputReplaysExactly) {
  const std::string recording = file("echo.kvpcio");
  // Input only once the guest polls: its FCR write (FIFO on) empties the receiver, as on a 16550A.
  start({"run", "--accel", "emu", "--name", "vm", "--mem", "32M", "--kernel", testing::guest_blob("serial_echo"),
         "--record-io", recording});
  stats_when([](const nlohmann::json& com1) { return com1["reads"].get<uint64_t>() > 0; });
  vm_->write_stdin("hello q");
  auto result = vm_->wait(60s);
  EXPECT_EQ(result.status, 0x25) << result.err;
  EXPECT_NE(result.out.find("hello q"), std::string::npos) << result.out;
  int status = -1;
  auto replay = call_json({"replay", recording}, &status);
  EXPECT_EQ(status, 0) << replay.dump();
  EXPECT_EQ(replay["ok"], true) << replay.dump();
  EXPECT_GE(replay["inputs"].get<uint64_t>(), 1u);
}

}  // namespace
}  // namespace kvpc
