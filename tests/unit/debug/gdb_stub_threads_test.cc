// The stub's all-stop thread handling with several vCPUs (the emu accelerator runs one, and
// KVM is absent here): real VcpuRunner threads over fake backends that implement KVM's
// debugging contract, driven over TCP with raw protocol packets.
#include "vmm/debug/gdb_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "vmm/debug/rsp_codec.h"
#include "vmm/mmio_bus.h"
#include "vmm/pio_bus.h"
#include "vmm/run_control.h"
#include "vmm/vcpu_runner.h"

namespace kvpc::gdb {
namespace {

using namespace std::chrono_literals;

// Runs "guest code" that only advances when single-stepped (one byte per step) and otherwise
// idles; honours kicks like KVM's immediate_exit.
class SteppingVcpu final : public VcpuBackend {
 public:
  explicit SteppingVcpu(uint32_t index) : index_(index), area_(4096) {
    run_ = reinterpret_cast<kvm_run*>(area_.data());
    regs_.rip = 0x1000 * (index + 1);
  }
  uint32_t index() const override { return index_; }
  kvm_run* run_state() override { return run_; }
  int run() override {
    if (kicked_.exchange(false) || __atomic_load_n(&run_->immediate_exit, __ATOMIC_ACQUIRE)) {
      run_->exit_reason = KVM_EXIT_INTR;
      return -EINTR;
    }
    if (debug_.control & KVM_GUESTDBG_SINGLESTEP) {
      regs_.rip += 1;
      run_->exit_reason = KVM_EXIT_DEBUG;
      run_->debug.arch.exception = 1;
      run_->debug.arch.dr6 = 0xFFFF4FF0;
      run_->debug.arch.pc = regs_.rip;
      return 0;
    }
    std::this_thread::sleep_for(1ms);
    run_->exit_reason = KVM_EXIT_INTR;  // "nothing happened": the runner loops
    return 0;
  }
  Status set_entry_state(const CpuEntryState&) override { return ok_status(); }
  std::string dump_registers() override { return "fake"; }
  void kick() override { kicked_.store(true); }
  Status get_regs(kvm_regs& regs) override {
    regs = regs_;
    return ok_status();
  }
  Status set_regs(const kvm_regs& regs) override {
    regs_ = regs;
    return ok_status();
  }
  Status get_sregs(kvm_sregs& sregs) override {
    sregs = kvm_sregs{};
    sregs.cs.selector = 0x08;
    return ok_status();
  }
  Status set_sregs(const kvm_sregs&) override { return ok_status(); }
  Status set_guest_debug(const kvm_guest_debug& debug) override {
    debug_ = debug;
    return ok_status();
  }
  uint64_t rip() const { return regs_.rip; }

 private:
  uint32_t index_;
  std::vector<uint8_t> area_;
  kvm_run* run_;
  kvm_regs regs_{};
  kvm_guest_debug debug_{};
  std::atomic<bool> kicked_{false};
};

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  void send_raw(std::string_view s) { [[maybe_unused]] auto n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  // Sends a packet and returns the next reply packet's payload (acks skipped).
  std::string ask(std::string_view payload) {
    send_raw(rsp_frame(payload));
    return next();
  }
  std::string next() {
    std::vector<RspDecoder::Event> events;
    char buf[4096];
    while (true) {
      for (auto& e : events) {
        if (e.kind == RspDecoder::Kind::kPacket) return e.payload;
      }
      events.clear();
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return "<closed>";
      decoder_.feed(std::string_view(buf, static_cast<size_t>(n)), events);
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  RspDecoder decoder_;
};

TEST(GdbStubThreads, VcpusAreThreadsStepOneWhileOthersStayStoppedAndInterruptStopsAll) {
  auto stub = GdbStub::listen("tcp:127.0.0.1:0", true);
  ASSERT_TRUE(stub.ok()) << stub.error().message;
  auto memory = GuestMemory::create_pc(16ULL << 20);
  ASSERT_TRUE(memory.ok());
  PioBus pio;
  MmioBus mmio;
  pio.freeze();
  mmio.freeze();
  RunControl control(2);
  SteppingVcpu v0(0), v1(1);
  VcpuRunnerOptions options;
  options.debug = stub.value().get();
  VcpuRunner r0(v0, pio, mmio, control, options), r1(v1, pio, mmio, control, options);
  control.set_kicker([&] {
    v0.kick();
    v1.kick();
  });
  DebugTarget target;
  target.vcpus = {&v0, &v1};
  target.memory = &memory.value();
  target.finished = [&] { return control.finished(); };
  target.kill = [&](std::string why) { control.finish({MachineOutcome::Kind::kStopped, 0, why}); };
  stub.value()->attach(target);
  r0.start();
  r1.start();

  {
    Client gdb(stub.value()->port());
    ASSERT_TRUE(gdb.connected());
    EXPECT_EQ(gdb.ask("?"), "T05thread:1;");
    EXPECT_EQ(gdb.ask("qfThreadInfo"), "m1,2");
    EXPECT_EQ(gdb.ask("qsThreadInfo"), "l");
    EXPECT_EQ(gdb.ask("qThreadExtraInfo,2"), to_hex(std::string_view("vCPU 1")));
    EXPECT_EQ(gdb.ask("T2"), "OK");
    EXPECT_EQ(gdb.ask("T3"), "E03");
    EXPECT_EQ(gdb.ask("Hg2"), "OK");
    EXPECT_EQ(gdb.ask("p10"), "0020000000000000") << "rip of vCPU 1 (thread 2)";
    EXPECT_EQ(gdb.ask("qC"), "QC2");
    // Step thread 2 only: thread 1 must not move.
    EXPECT_EQ(gdb.ask("vCont;s:2"), "T05thread:2;");
    EXPECT_EQ(v1.rip(), 0x2001u);
    EXPECT_EQ(v0.rip(), 0x1000u);
    // Step thread 1 while thread 2 continues (idles): the stop names thread 1.
    EXPECT_EQ(gdb.ask("vCont;s:1;c"), "T05thread:1;");
    EXPECT_EQ(v0.rip(), 0x1001u);
    // Everyone runs; Ctrl-C stops everyone.
    gdb.send_raw(rsp_frame("vCont;c"));
    std::this_thread::sleep_for(50ms);
    gdb.send_raw("\x03");
    EXPECT_EQ(gdb.next(), "T02thread:1;");
    EXPECT_EQ(gdb.ask("vCont;x"), "E16");
    EXPECT_EQ(gdb.ask("vCont;c:9"), "E03");
    gdb.send_raw(rsp_frame("k"));
  }
  MachineOutcome outcome = control.wait_finished();
  EXPECT_EQ(outcome.kind, MachineOutcome::Kind::kStopped);
  EXPECT_EQ(outcome.message, "killed by gdb");
  r0.join();
  r1.join();
  stub.value()->detach(outcome);
}

TEST(GdbStubThreads, ListenRejectsBadAddresses) {
  EXPECT_FALSE(GdbStub::listen("127.0.0.1:1234", false).ok());
  EXPECT_FALSE(GdbStub::listen("tcp:127.0.0.1", false).ok());
  EXPECT_FALSE(GdbStub::listen("tcp:127.0.0.1:99999", false).ok());
  EXPECT_FALSE(GdbStub::listen("tcp:not-an-ip:1234", false).ok());
  EXPECT_FALSE(GdbStub::listen("tcp:127.0.0.1:12a", false).ok());
}

TEST(GdbStubThreads, ExitRepliesFollowTheOutcome) {
  EXPECT_EQ(exit_reply_for({MachineOutcome::Kind::kDebugExit, 99, ""}), "W63");
  EXPECT_EQ(exit_reply_for({MachineOutcome::Kind::kPoweredOff, 0, ""}), "W00");
  EXPECT_EQ(exit_reply_for({MachineOutcome::Kind::kStopped, 0, ""}), "X0f");
  EXPECT_EQ(exit_reply_for({MachineOutcome::Kind::kTripleFault, 0, ""}), "X06");
}

}  // namespace
}  // namespace kvpc::gdb
