#include "vmm/debug/gdb_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vmm/debug/rsp_codec.h"

namespace kvpc::gdb {
namespace {

using namespace std::chrono_literals;

// How often blocked waits look at the machine's outcome and the stub's shutdown flag.
constexpr auto kPollInterval = 20ms;
constexpr uint64_t kDr6Bs = 1ULL << 14;

// Replies with errno-style numbers, as gdbserver does.
constexpr std::string_view kErrInvalid = "E16";  // EINVAL (22)
constexpr std::string_view kErrFault = "E0e";    // EFAULT (14)
constexpr std::string_view kErrNoSpace = "E1c";  // ENOSPC (28)
constexpr std::string_view kErrNoTarget = "E03"; // ESRCH (3): no machine / thread

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

// "ADDR,LEN" -> (addr, len)
std::optional<std::pair<uint64_t, uint64_t>> parse_addr_len(std::string_view text) {
  auto parts = split(text, ',');
  if (parts.size() != 2) return std::nullopt;
  auto addr = parse_hex_number(parts[0]);
  auto len = parse_hex_number(parts[1]);
  if (!addr || !len) return std::nullopt;
  return std::make_pair(*addr, *len);
}

uint64_t dr7_len_bits(uint64_t len) {
  switch (len) {
    case 1: return 0;
    case 2: return 1;
    case 8: return 2;
    default: return 3;  // 4
  }
}

}  // namespace

std::string exit_reply_for(const MachineOutcome& outcome) {
  using Kind = MachineOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kPoweredOff:
    case Kind::kHalted:
      return "W00";
    case Kind::kDebugExit:
      return fmt::format("W{:02x}", outcome.exit_status & 0xFF);
    case Kind::kStopped:
      return "X0f";  // SIGTERM: ended from the host
    case Kind::kTripleFault:
    case Kind::kGuestError:
    case Kind::kHostError:
    case Kind::kReset:
      return "X06";  // SIGABRT: the guest crashed (or kvpc failed)
  }
  return "X06";
}

Result<std::unique_ptr<GdbStub>> GdbStub::listen(std::string_view address, bool wait_for_attach) {
  constexpr std::string_view kPrefix = "tcp:";
  if (address.substr(0, kPrefix.size()) != kPrefix) {
    return make_error(fmt::format("--gdb {}: expected tcp:HOST:PORT (e.g. tcp:127.0.0.1:1234)", address));
  }
  std::string_view rest = address.substr(kPrefix.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return make_error(fmt::format("--gdb {}: missing :PORT", address));
  std::string host(rest.substr(0, colon));
  std::string_view port_text = rest.substr(colon + 1);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  uint32_t port = 0;
  if (port_text.empty() || port_text.size() > 5) return make_error(fmt::format("--gdb {}: bad port", address));
  for (char c : port_text) {
    if (c < '0' || c > '9') return make_error(fmt::format("--gdb {}: bad port", address));
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return make_error(fmt::format("--gdb {}: port {} is above 65535", address, port));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return make_error(fmt::format("--gdb {}: {} is not an IPv4 address", address, host));
  }
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return make_error(fmt::format("--gdb: socket: {}", strerror(errno)));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    return make_error(fmt::format("--gdb {}: cannot listen there: {}", address, strerror(errno)));
  }
  if (::listen(fd.get(), 1) < 0) return make_error(fmt::format("--gdb {}: listen: {}", address, strerror(errno)));
  socklen_t len = sizeof(sa);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  auto stub = std::unique_ptr<GdbStub>(new GdbStub(std::move(fd), host, ntohs(sa.sin_port), wait_for_attach));
  stub->thread_ = std::thread([raw = stub.get()] { raw->thread_main(); });
  return stub;
}

GdbStub::GdbStub(UniqueFd listener, std::string host, uint16_t port, bool wait_for_attach)
    : listener_(std::move(listener)), host_(std::move(host)), port_(port), wait_for_attach_(wait_for_attach) {}

GdbStub::~GdbStub() {
  shutdown_.store(true);
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------- session side

void GdbStub::attach(DebugTarget target) {
  std::lock_guard lock(mutex_);
  const bool hold = (wait_for_attach_ && !attached_before_) || (gdb_connected_ && !gdb_running_);
  attached_before_ = true;
  slots_.assign(target.vcpus.size(), Slot{!hold, false});
  target_ = std::move(target);
  exit_reply_.reset();
  exit_sent_ = false;
  if (g_thread_ >= slots_.size()) g_thread_ = 0;
  // A reboot loaded the image afresh: put the breakpoints back (vCPUs are not running yet).
  for (auto& bp : software_) {
    bp.inserted = false;
    if (auto status = insert_software_locked(bp); !status) {
      spdlog::warn("gdb: breakpoint at {:#x} not re-inserted after reboot: {}", bp.address, status.error().message);
    }
  }
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (auto status = apply_debug_locked(i, false); !status) spdlog::warn("gdb: {}", status.error().message);
  }
}

void GdbStub::detach(const std::optional<MachineOutcome>& final_outcome) {
  std::unique_lock lock(mutex_);
  target_.reset();
  slots_.clear();
  pending_event_.reset();
  if (final_outcome) {
    exit_reply_ = exit_reply_for(*final_outcome);
    changed_.notify_all();
    // Give the stub thread a moment to tell a waiting gdb how the VM ended.
    changed_.wait_for(lock, 2s, [&] { return exit_sent_ || !gdb_connected_ || !gdb_running_; });
  }
}

// ---------------------------------------------------------------- vCPU side

void GdbStub::vcpu_starting(VcpuBackend& vcpu) { gate(vcpu.index(), std::nullopt); }

void GdbStub::vcpu_interrupted(VcpuBackend& vcpu) { gate(vcpu.index(), std::nullopt); }

void GdbStub::vcpu_debug_exit(VcpuBackend& vcpu) {
  std::optional<StopEvent> event;
  {
    std::lock_guard lock(mutex_);
    event = event_from_debug_exit_locked(vcpu.index(), vcpu.run_state()->debug.arch);
  }
  gate(vcpu.index(), event);
}

void GdbStub::gate(uint32_t vcpu, std::optional<StopEvent> event) {
  std::unique_lock lock(mutex_);
  if (!target_ || vcpu >= slots_.size()) return;
  if (event && !gdb_connected_) return;  // debugging was switched off as gdb left: run on
  if (event) {
    if (!pending_event_) pending_event_ = std::move(event);
    // All-stop: every other vCPU stops too, as soon as it can.
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].run_allowed) {
        slots_[i].run_allowed = false;
        if (i != vcpu) target_->vcpus[i]->kick();
      }
    }
    changed_.notify_all();
  }
  if (slots_[vcpu].run_allowed) return;
  slots_[vcpu].parked = true;
  changed_.notify_all();
  while (target_ && vcpu < slots_.size() && !slots_[vcpu].run_allowed && !target_->finished() && !shutdown_.load()) {
    changed_.wait_for(lock, kPollInterval);
  }
  if (target_ && vcpu < slots_.size()) slots_[vcpu].parked = false;
}

GdbStub::StopEvent GdbStub::event_from_debug_exit_locked(uint32_t vcpu, const kvm_debug_exit_arch& arch) const {
  StopEvent event;
  event.vcpu = vcpu;
  event.signal = 5;
  if (arch.exception == 3) {
    event.reason = "swbreak:;";
    return event;
  }
  for (int i = 0; i < 4; ++i) {
    if (!(arch.dr6 & (1ULL << i)) || !debug_regs_[i].used) continue;
    const DebugRegisterSlot& slot = debug_regs_[i];
    switch (slot.type) {
      case '1': event.reason = "hwbreak:;"; break;
      case '2': event.reason = fmt::format("watch:{:x};", slot.gdb_address); break;
      case '3': event.reason = fmt::format("rwatch:{:x};", slot.gdb_address); break;
      default: event.reason = fmt::format("awatch:{:x};", slot.gdb_address); break;
    }
    return event;
  }
  (void)kDr6Bs;  // DR6.BS, or a breakpoint gdb no longer has: a plain SIGTRAP stop
  return event;
}

// ---------------------------------------------------------------- stub thread

void GdbStub::thread_main() {
  while (!shutdown_.load()) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    serve(fd);
    close(fd);
  }
}

void GdbStub::send_raw(std::string_view bytes) {
  while (!bytes.empty() && conn_ >= 0) {
    ssize_t n = ::send(conn_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // gdb went away; the read side notices
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void GdbStub::send_packet(std::string_view payload) {
  last_sent_ = rsp_frame(payload);
  send_raw(last_sent_);
}

void GdbStub::serve(int fd) {
  conn_ = fd;
  ack_mode_ = true;
  last_sent_.clear();
  {
    std::unique_lock lock(mutex_);
    gdb_connected_ = true;
    gdb_running_ = false;
    g_thread_ = 0;
    c_thread_.reset();
    // Attaching stops the guest, as attaching to a process does.
    while (!shutdown_.load() && !exit_reply_ && !stop_all_locked(lock)) {
      if (target_ && target_->finished()) break;
      changed_.wait_for(lock, kPollInterval);
    }
    last_stop_reply_ = exit_reply_ ? *exit_reply_ : std::string("T05thread:1;");
    if (exit_reply_) exit_sent_ = true;
  }
  RspDecoder decoder;
  std::vector<RspDecoder::Event> events;
  uint8_t buffer[4096];
  bool open = true;
  while (open && !shutdown_.load()) {
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(kPollInterval.count()));
    if (ready > 0) {
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      events.clear();
      decoder.feed(std::span<const uint8_t>(buffer, static_cast<size_t>(n)), events);
      for (auto& event : events) {
        switch (event.kind) {
          case RspDecoder::Kind::kInterrupt: interrupt(); break;
          case RspDecoder::Kind::kAck: break;
          case RspDecoder::Kind::kNak:
            if (ack_mode_ && !last_sent_.empty()) send_raw(last_sent_);
            break;
          case RspDecoder::Kind::kBadChecksum:
          case RspDecoder::Kind::kOverflow:
            if (ack_mode_) send_raw("-");
            break;
          case RspDecoder::Kind::kPacket: {
            if (ack_mode_) send_raw("+");
            if (event.payload == "D" || event.payload.substr(0, 2) == "D;") {
              detach_gdb();
              send_packet("OK");
              open = false;
              break;
            }
            if (event.payload == "k" || event.payload.substr(0, 5) == "vKill") {
              {
                std::lock_guard lock(mutex_);
                if (target_) target_->kill("killed by gdb");
              }
              if (event.payload != "k") send_packet("OK");
              open = false;
              break;
            }
            std::optional<std::string> reply = handle(event.payload);
            if (reply) send_packet(*reply);
            if (event.payload == "QStartNoAckMode") ack_mode_ = false;  // after the OK went out with acks
            break;
          }
        }
        if (!open) break;
      }
    }
    check_for_stop();
  }
  // gdb vanished or detached: let the guest run on without it.
  if (open) detach_gdb();
  std::lock_guard lock(mutex_);
  gdb_connected_ = false;
  gdb_running_ = false;
  conn_ = -1;
  changed_.notify_all();
}

void GdbStub::detach_gdb() {
  std::lock_guard lock(mutex_);
  for (auto& bp : software_) remove_software_locked(bp);
  software_.clear();
  for (auto& slot : debug_regs_) slot = DebugRegisterSlot{};
  if (target_) {
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      (void)apply_debug_locked(i, false);
      slots_[i].run_allowed = true;
    }
  }
  pending_event_.reset();
  gdb_running_ = false;
  changed_.notify_all();
}

void GdbStub::check_for_stop() {
  std::unique_lock lock(mutex_);
  if (!gdb_running_) return;
  if (exit_reply_ && !exit_sent_) {
    exit_sent_ = true;
    gdb_running_ = false;
    last_stop_reply_ = *exit_reply_;
    lock.unlock();
    send_packet(last_stop_reply_);
    changed_.notify_all();
    return;
  }
  if (!pending_event_ || !target_) return;
  if (!stop_all_locked(lock)) return;  // the machine is ending: W/X follows
  StopEvent event = *pending_event_;
  pending_event_.reset();
  gdb_running_ = false;
  g_thread_ = event.vcpu;
  last_stop_reply_ = stop_reply_locked(event);
  std::string reply = last_stop_reply_;
  lock.unlock();
  send_packet(reply);
}

void GdbStub::interrupt() {
  std::unique_lock lock(mutex_);
  if (!gdb_running_ || !target_) return;
  if (!stop_all_locked(lock)) return;
  StopEvent event;
  event.vcpu = pending_event_ ? pending_event_->vcpu : 0;
  event.signal = pending_event_ ? pending_event_->signal : 2;  // SIGINT, unless a breakpoint won the race
  if (pending_event_) event.reason = pending_event_->reason;
  pending_event_.reset();
  gdb_running_ = false;
  g_thread_ = event.vcpu;
  last_stop_reply_ = stop_reply_locked(event);
  std::string reply = last_stop_reply_;
  lock.unlock();
  send_packet(reply);
}

bool GdbStub::stop_all_locked(std::unique_lock<std::mutex>& lock) {
  if (!target_) return false;
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].run_allowed) {
      slots_[i].run_allowed = false;
      target_->vcpus[i]->kick();
    }
  }
  while (true) {
    if (!target_ || target_->finished() || shutdown_.load()) return false;
    bool all = true;
    for (const Slot& slot : slots_) all = all && slot.parked;
    if (all) return true;
    changed_.wait_for(lock, kPollInterval);
  }
}

bool GdbStub::target_alive_locked() const { return target_ && !target_->finished(); }

uint32_t GdbStub::vcpu_count_locked() const { return static_cast<uint32_t>(slots_.size()); }

std::optional<uint32_t> GdbStub::parse_thread_locked(std::string_view text, bool allow_all) const {
  if (text.size() > 1 && text[0] == 'p') {  // multiprocess form pPID.TID
    size_t dot = text.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    text = text.substr(dot + 1);
  }
  if (text == "-1") return allow_all ? std::optional<uint32_t>(UINT32_MAX) : std::nullopt;
  if (text == "0") return allow_all ? std::optional<uint32_t>(UINT32_MAX) : std::optional<uint32_t>(0);
  auto id = parse_hex_number(text);
  if (!id || *id == 0 || *id > vcpu_count_locked()) return std::nullopt;
  return static_cast<uint32_t>(*id - 1);
}

uint32_t GdbStub::selected_vcpu_locked() const { return g_thread_ < vcpu_count_locked() ? g_thread_ : 0; }

Result<X86State> GdbStub::read_state_locked(uint32_t vcpu) {
  if (!target_alive_locked() || vcpu >= target_->vcpus.size()) return make_error("no such vCPU");
  X86State state;
  if (auto s = target_->vcpus[vcpu]->get_regs(state.regs); !s) return s.error();
  if (auto s = target_->vcpus[vcpu]->get_sregs(state.sregs); !s) return s.error();
  return state;
}

Status GdbStub::write_state_locked(uint32_t vcpu, const X86State& state) {
  if (!target_alive_locked() || vcpu >= target_->vcpus.size()) return make_error("no such vCPU");
  if (auto s = target_->vcpus[vcpu]->set_regs(state.regs); !s) return s;
  return target_->vcpus[vcpu]->set_sregs(state.sregs);
}

Result<PagingRegs> GdbStub::paging_locked(uint32_t vcpu) {
  if (!target_alive_locked() || vcpu >= target_->vcpus.size()) return make_error("no such vCPU");
  kvm_sregs sregs{};
  if (auto s = target_->vcpus[vcpu]->get_sregs(sregs); !s) return s.error();
  return PagingRegs{sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer};
}

Status GdbStub::apply_debug_locked(uint32_t vcpu, bool step) {
  if (!target_ || vcpu >= target_->vcpus.size()) return make_error("no such vCPU");
  kvm_guest_debug debug{};
  bool any_hw = false;
  uint64_t dr7 = 0x600;  // GE and the reserved bit 10, as debuggers set it
  for (int i = 0; i < 4; ++i) {
    const DebugRegisterSlot& slot = debug_regs_[i];
    if (!slot.used) continue;
    any_hw = true;
    debug.arch.debugreg[i] = slot.address;
    const uint64_t rw = slot.type == '1' ? 0 : slot.type == '2' ? 1 : 3;  // x86 has no read-only: 3 covers reads
    dr7 |= (2ULL << (2 * i)) | (rw << (16 + 4 * i)) | (dr7_len_bits(slot.len) << (18 + 4 * i));
  }
  if (any_hw) debug.arch.debugreg[7] = dr7;
  bool any_sw = false;
  for (const auto& bp : software_) any_sw = any_sw || bp.inserted;
  if (step || any_hw || any_sw) {
    debug.control = KVM_GUESTDBG_ENABLE;
    if (step) debug.control |= KVM_GUESTDBG_SINGLESTEP;
    if (any_sw) debug.control |= KVM_GUESTDBG_USE_SW_BP;
    if (any_hw) debug.control |= KVM_GUESTDBG_USE_HW_BP;
  }
  return target_->vcpus[vcpu]->set_guest_debug(debug);
}

Status GdbStub::insert_software_locked(SoftwareBreakpoint& bp) {
  if (!target_ || target_->vcpus.empty()) return make_error("no machine");
  auto paging = paging_locked(selected_vcpu_locked());
  if (!paging) return paging.error();
  auto where = translate_guest_virtual(*target_->memory, *paging, bp.address);
  if (!where) return where.error();
  uint8_t original = 0;
  if (!target_->memory->read(where->gpa, std::span<uint8_t>(&original, 1))) {
    return make_error(fmt::format("{:#x} is not guest RAM", where->gpa));
  }
  const uint8_t int3 = 0xCC;
  if (!target_->memory->write(where->gpa, std::span<const uint8_t>(&int3, 1))) {
    return make_error(fmt::format("{:#x} cannot be written (ROM?)", where->gpa));
  }
  bp.gpa = where->gpa;
  bp.original = original;
  bp.inserted = true;
  return ok_status();
}

void GdbStub::remove_software_locked(SoftwareBreakpoint& bp) {
  if (bp.inserted && target_) target_->memory->write(bp.gpa, std::span<const uint8_t>(&bp.original, 1));
  bp.inserted = false;
}

std::string GdbStub::stop_reply_locked(const StopEvent& event) const {
  return fmt::format("T{:02x}thread:{:x};{}", event.signal, event.vcpu + 1, event.reason);
}

// ---------------------------------------------------------------- packets

std::optional<std::string> GdbStub::handle(std::string_view packet) {
  if (packet.empty()) return std::string();
  const char command = packet[0];
  std::string_view args = packet.substr(1);
  if (command == 'q' || command == 'Q') return handle_query(packet);
  if (command == 'v') {
    if (packet == "vCont?") return std::string("vCont;c;C;s;S;t");
    if (packet.substr(0, 6) == "vCont;") return handle_vcont(packet.substr(6));
    return std::string();  // vMustReplyEmpty and everything we do not implement
  }
  std::unique_lock lock(mutex_);
  if (exit_reply_ && command != '?') return std::string(kErrNoTarget);
  switch (command) {
    case '?':
      return last_stop_reply_;
    case 'H': {
      if (args.empty()) return std::string(kErrInvalid);
      auto thread = parse_thread_locked(args.substr(1), true);
      if (!thread) return std::string(kErrNoTarget);
      if (args[0] == 'g') {
        g_thread_ = *thread == UINT32_MAX ? 0 : *thread;
      } else if (args[0] == 'c') {
        c_thread_ = *thread == UINT32_MAX ? std::nullopt : std::optional<uint32_t>(*thread);
      } else {
        return std::string(kErrInvalid);
      }
      return std::string("OK");
    }
    case 'T':
      return parse_thread_locked(args, false) ? std::string("OK") : std::string(kErrNoTarget);
    case 'g': {
      auto state = read_state_locked(selected_vcpu_locked());
      if (!state) return std::string(kErrNoTarget);
      return encode_all_registers(*state);
    }
    case 'G': {
      auto state = read_state_locked(selected_vcpu_locked());
      if (!state) return std::string(kErrNoTarget);
      if (!decode_all_registers(*state, args)) return std::string(kErrInvalid);
      if (!write_state_locked(selected_vcpu_locked(), *state)) return std::string(kErrFault);
      return std::string("OK");
    }
    case 'p': {
      auto number = parse_hex_number(args);
      auto state = read_state_locked(selected_vcpu_locked());
      if (!state) return std::string(kErrNoTarget);
      if (!number || *number >= static_cast<uint64_t>(kRegisterCount)) return std::string(kErrInvalid);
      return *encode_register(*state, static_cast<int>(*number));
    }
    case 'P': {
      const size_t eq = args.find('=');
      if (eq == std::string_view::npos) return std::string(kErrInvalid);
      auto number = parse_hex_number(args.substr(0, eq));
      if (!number || *number >= static_cast<uint64_t>(kRegisterCount)) return std::string(kErrInvalid);
      auto state = read_state_locked(selected_vcpu_locked());
      if (!state) return std::string(kErrNoTarget);
      if (!decode_register(*state, static_cast<int>(*number), args.substr(eq + 1))) return std::string(kErrInvalid);
      if (!write_state_locked(selected_vcpu_locked(), *state)) return std::string(kErrFault);
      return std::string("OK");
    }
    case 'm':
      return read_memory(args);
    case 'M':
      return write_memory(args);
    case 'Z':
    case 'z':
      return handle_breakpoint(command == 'Z', args);
    case 'c':
    case 's':
    case 'C':
    case 'S': {
      // c [addr] / s [addr] / C sig[;addr] / S sig[;addr]: the signal is not delivered.
      std::string_view addr_text = args;
      if (command == 'C' || command == 'S') {
        const size_t semi = args.find(';');
        addr_text = semi == std::string_view::npos ? std::string_view() : args.substr(semi + 1);
      }
      const bool step = command == 's' || command == 'S';
      const uint32_t who = c_thread_.value_or(selected_vcpu_locked());
      if (!addr_text.empty()) {
        auto addr = parse_hex_number(addr_text);
        auto state = read_state_locked(who);
        if (!addr || !state) return std::string(kErrInvalid);
        state->regs.rip = *addr;
        if (!write_state_locked(who, *state)) return std::string(kErrFault);
      }
      std::vector<Resume> actions(vcpu_count_locked(), step ? Resume::kStay : Resume::kContinue);
      if (who < actions.size()) actions[who] = step ? Resume::kStep : Resume::kContinue;
      lock.unlock();
      return resume(std::move(actions));
    }
    default:
      return std::string();  // unsupported: the empty reply
  }
}

std::string GdbStub::handle_query(std::string_view packet) {
  if (packet.substr(0, 10) == "qSupported") {
    return fmt::format("PacketSize={:x};QStartNoAckMode+;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+",
                       kMaxPacketPayload);
  }
  if (packet == "QStartNoAckMode") return "OK";
  if (packet.substr(0, 31) == "qXfer:features:read:target.xml:") {
    auto range = parse_addr_len(packet.substr(31));
    if (!range) return std::string(kErrInvalid);
    std::string_view xml = x86_64_target_xml();
    if (range->first >= xml.size()) return "l";
    const size_t len = std::min<uint64_t>(range->second, kMaxPacketPayload / 2);
    std::string_view chunk = xml.substr(range->first, len);
    return std::string(range->first + chunk.size() >= xml.size() ? "l" : "m") + std::string(chunk);
  }
  if (packet.substr(0, 20) == "qXfer:features:read:") return std::string(kErrNoTarget);  // unknown annex
  if (packet == "qAttached") return "1";
  if (packet == "qSymbol::") return "OK";
  std::lock_guard lock(mutex_);
  if (packet == "qC") return fmt::format("QC{:x}", selected_vcpu_locked() + 1);
  if (packet == "qfThreadInfo") {
    if (vcpu_count_locked() == 0) return "l";
    std::string out = "m";
    for (uint32_t i = 0; i < vcpu_count_locked(); ++i) out += fmt::format("{}{:x}", i ? "," : "", i + 1);
    return out;
  }
  if (packet == "qsThreadInfo") return "l";
  if (packet.substr(0, 17) == "qThreadExtraInfo,") {
    auto thread = parse_thread_locked(packet.substr(17), false);
    if (!thread) return std::string(kErrNoTarget);
    return to_hex(fmt::format("vCPU {}", *thread));
  }
  return "";
}

std::optional<std::string> GdbStub::handle_vcont(std::string_view text) {
  std::vector<Resume> actions;
  {
    std::lock_guard lock(mutex_);
    if (exit_reply_) return std::string(kErrNoTarget);
    actions.assign(vcpu_count_locked(), Resume::kStay);
    std::vector<bool> decided(actions.size(), false);
    for (std::string_view token : split(text, ';')) {
      if (token.empty()) return std::string(kErrInvalid);
      Resume action;
      switch (token[0]) {
        case 'c': case 'C': action = Resume::kContinue; break;
        case 's': case 'S': action = Resume::kStep; break;
        case 't': action = Resume::kStay; break;
        default: return std::string(kErrInvalid);
      }
      const size_t colon = token.find(':');
      std::optional<uint32_t> who = UINT32_MAX;
      if (colon != std::string_view::npos) who = parse_thread_locked(token.substr(colon + 1), true);
      if (!who) return std::string(kErrNoTarget);
      // The leftmost action that names a thread wins for it.
      for (uint32_t i = 0; i < actions.size(); ++i) {
        if (!decided[i] && (*who == UINT32_MAX || *who == i)) {
          actions[i] = action;
          decided[i] = true;
        }
      }
    }
  }
  return resume(std::move(actions));
}

std::optional<std::string> GdbStub::resume(std::vector<Resume> actions) {
  std::lock_guard lock(mutex_);
  if (!target_alive_locked()) return exit_reply_ ? *exit_reply_ : std::string(kErrNoTarget);
  bool any = false;
  for (uint32_t i = 0; i < actions.size() && i < slots_.size(); ++i) {
    if (actions[i] == Resume::kStay) continue;
    if (auto status = apply_debug_locked(i, actions[i] == Resume::kStep); !status) {
      spdlog::warn("gdb: {}", status.error().message);
      return std::string(kErrFault);
    }
    any = true;
  }
  if (!any) return std::string(kErrInvalid);
  pending_event_.reset();
  for (uint32_t i = 0; i < actions.size() && i < slots_.size(); ++i) {
    if (actions[i] != Resume::kStay) slots_[i].run_allowed = true;
  }
  gdb_running_ = true;
  changed_.notify_all();
  return std::nullopt;  // no reply now: the stop reply comes when the guest stops
}

std::string GdbStub::read_memory(std::string_view args) {
  auto range = parse_addr_len(args);
  if (!range) return std::string(kErrInvalid);
  auto [addr, len] = *range;
  len = std::min<uint64_t>(len, kMaxPacketPayload / 2 - 16);
  if (!target_alive_locked()) return std::string(kErrNoTarget);
  auto paging = paging_locked(selected_vcpu_locked());
  if (!paging) return std::string(kErrNoTarget);
  std::vector<uint8_t> bytes;
  bytes.reserve(len);
  while (bytes.size() < len) {
    const uint64_t va = addr + bytes.size();
    auto where = translate_guest_virtual(*target_->memory, *paging, va);
    if (!where) break;
    const uint64_t in_page = where->page_size - (va & (where->page_size - 1));
    const uint64_t n = std::min<uint64_t>(in_page, len - bytes.size());
    const size_t old = bytes.size();
    bytes.resize(old + n);
    if (!target_->memory->read(where->gpa, std::span<uint8_t>(bytes.data() + old, n))) {
      bytes.resize(old);
      break;
    }
  }
  if (bytes.empty() && len != 0) return std::string(kErrFault);
  // Hide our int3s: gdb must see the guest's own bytes.
  for (const auto& bp : software_) {
    if (bp.inserted && bp.address >= addr && bp.address < addr + bytes.size()) bytes[bp.address - addr] = bp.original;
  }
  return to_hex(bytes);
}

std::string GdbStub::write_memory(std::string_view args) {
  const size_t colon = args.find(':');
  if (colon == std::string_view::npos) return std::string(kErrInvalid);
  auto range = parse_addr_len(args.substr(0, colon));
  auto data = parse_hex_bytes(args.substr(colon + 1));
  if (!range || !data || data->size() != range->second) return std::string(kErrInvalid);
  if (!target_alive_locked()) return std::string(kErrNoTarget);
  auto paging = paging_locked(selected_vcpu_locked());
  if (!paging) return std::string(kErrNoTarget);
  const uint64_t addr = range->first;
  // Writes over our own int3s update what they hide and keep the breakpoint in place.
  for (auto& bp : software_) {
    if (bp.inserted && bp.address >= addr && bp.address < addr + data->size()) {
      bp.original = (*data)[bp.address - addr];
      (*data)[bp.address - addr] = 0xCC;
    }
  }
  size_t done = 0;
  while (done < data->size()) {
    const uint64_t va = addr + done;
    auto where = translate_guest_virtual(*target_->memory, *paging, va);
    if (!where) return std::string(kErrFault);
    const uint64_t in_page = where->page_size - (va & (where->page_size - 1));
    const size_t n = static_cast<size_t>(std::min<uint64_t>(in_page, data->size() - done));
    if (!target_->memory->write(where->gpa, std::span<const uint8_t>(data->data() + done, n))) {
      return std::string(kErrFault);
    }
    done += n;
  }
  return "OK";
}

std::string GdbStub::handle_breakpoint(bool insert, std::string_view args) {
  auto parts = split(args, ',');
  if (parts.size() < 3 || parts[0].size() != 1) return std::string(kErrInvalid);
  const char type = parts[0][0];
  auto addr = parse_hex_number(parts[1]);
  auto kind = parse_hex_number(split(parts[2], ';')[0]);  // conditions after ';' are not evaluated here
  if (!addr || !kind) return std::string(kErrInvalid);
  if (!target_alive_locked()) return std::string(kErrNoTarget);
  if (type == '0') {
    auto it = std::find_if(software_.begin(), software_.end(), [&](const auto& bp) { return bp.address == *addr; });
    if (!insert) {
      if (it != software_.end()) {
        remove_software_locked(*it);
        software_.erase(it);
      }
      return "OK";
    }
    if (it != software_.end()) return "OK";
    SoftwareBreakpoint bp;
    bp.address = *addr;
    if (auto status = insert_software_locked(bp); !status) return std::string(kErrFault);
    software_.push_back(bp);
    return "OK";
  }
  if (type < '1' || type > '4') return "";  // unknown type: unsupported
  const uint64_t length = type == '1' ? 1 : *kind;
  if (length == 0 || length > 32) return std::string(kErrInvalid);
  if (!insert) {
    for (auto& slot : debug_regs_) {
      if (slot.used && slot.type == type && slot.gdb_address == *addr && slot.gdb_len == length) slot = {};
    }
    return "OK";
  }
  // Cover [addr, addr+length) with naturally aligned 1/2/4/8-byte pieces, one DR each.
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  for (uint64_t at = *addr; at < *addr + length;) {
    uint64_t size = 8;
    while (size > 1 && ((at & (size - 1)) != 0 || at + size > *addr + length)) size >>= 1;
    pieces.emplace_back(at, size);
    at += size;
  }
  std::vector<int> free_slots;
  for (int i = 0; i < 4; ++i) {
    if (!debug_regs_[i].used) free_slots.push_back(i);
  }
  if (pieces.size() > free_slots.size()) return std::string(kErrNoSpace);
  for (size_t p = 0; p < pieces.size(); ++p) {
    DebugRegisterSlot& slot = debug_regs_[free_slots[p]];
    slot = DebugRegisterSlot{true, type, pieces[p].first, pieces[p].second, *addr, length};
  }
  return "OK";
}

}  // namespace kvpc::gdb
