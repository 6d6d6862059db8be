#include "guest-agent/linux/agent.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "guest-agent/linux/log.h"

namespace kvpc::agent {
namespace {

using namespace wire;

// The header page indices are shared with the host: acquire the other side's, release ours.
uint32_t load_index(const uint8_t* header, uint32_t offset) {
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(header + offset), __ATOMIC_ACQUIRE);
}
void store_index(uint8_t* header, uint32_t offset, uint32_t value) {
  __atomic_store_n(reinterpret_cast<uint32_t*>(header + offset), value, __ATOMIC_RELEASE);
}

// Wrap-around copies between a ring data area (size a multiple of 8) and a flat buffer.
void copy_out(const uint8_t* data, uint32_t size, uint32_t index, uint8_t* out, uint32_t n) {
  uint32_t at = index % size;
  uint32_t first = std::min(n, size - at);
  std::memcpy(out, data + at, first);
  std::memcpy(out + first, data, n - first);
}
void copy_in(uint8_t* data, uint32_t size, uint32_t index, const uint8_t* in, uint32_t n) {
  uint32_t at = index % size;
  uint32_t first = std::min(n, size - at);
  std::memcpy(data + at, in, first);
  std::memcpy(data, in + first, n - first);
}

// Feature bits that make the agent want a service (by service id), as agent.inc.
constexpr uint32_t kServiceFeatures[] = {0, kFeatureHeartbeat, kFeatureOsInfo,
                                         kFeatureShutdown | kFeatureRestart | kFeatureLogoff | kFeatureSessionList,
                                         kFeatureTimeSync};
constexpr uint16_t kMessageVersion = 1;
constexpr uint32_t kMaxOffers = 16;

}  // namespace

Agent::Agent(Device& device, RingMemory ring, System& system, AgentOptions options)
    : device_(device), ring_(ring), system_(system), options_(std::move(options)) {}

uint32_t Agent::tx_size() const { return (ring_.pages - 1) / 2 * kPageSize; }
uint32_t Agent::rx_size() const { return (ring_.pages - 1) * kPageSize - tx_size(); }
uint8_t* Agent::tx_data() const { return ring_.base + kPageSize; }
uint8_t* Agent::rx_data() const { return tx_data() + tx_size(); }

uint32_t Agent::new_txid() {
  if (++next_txid_ == 0) ++next_txid_;  // 0 means "none"
  return next_txid_;
}

bool Agent::start() { return attach(); }

// Fresh header page and indices, ATTACH, HELLO.
bool Agent::attach() {
  std::memset(ring_.base, 0, kPageSize);  // both sides start at 0; RX interrupts unmasked
  tx_write_ = 0;
  rx_read_ = 0;
  connected_ = false;
  offers_seen_ = 0;
  offers_expected_ = 0;
  channels_ = {};
  sessions_sent_valid_ = false;
  device_.write32(kRegRingGpaLo, static_cast<uint32_t>(ring_.bus_address));
  device_.write32(kRegRingGpaHi, static_cast<uint32_t>(ring_.bus_address >> 32));
  device_.write32(kRegRingPages, ring_.pages);
  device_.write32(kRegControl, kControlAttach);
  attached_ = (device_.read32(kRegStatus) & kStatusAttached) != 0;
  if (!attached_) {
    log_line("ATTACH refused (status 0x%x)", device_.read32(kRegStatus));
    return false;
  }
  hello_txid_ = new_txid();
  BodyWriter body;
  body.u32(1).u32(options_.features).fixed(options_.name, kAgentNameSize);
  Header h;
  h.type = kMsgHello;
  h.flags = kFlagRequest;
  h.transaction = hello_txid_;
  send(kControlChannel, h, body.take());
  doorbell();
  return true;
}

// RESET and ATTACH again, unless that happened too often without the host ever answering HELLO
// (a host that corrupts every ring must not keep us busy: we then wait for its RESET).
void Agent::relink() {
  broken_ = false;
  if (relinks_without_hello_ >= options_.max_relinks) {
    if (attached_) log_line("link keeps failing: giving up until the host resets it");
    device_.write32(kRegControl, kControlReset);
    attached_ = false;
    connected_ = false;
    return;
  }
  ++relinks_without_hello_;
  ++counters_.relinks;
  device_.write32(kRegControl, kControlReset);
  attach();
}

void Agent::doorbell() {
  device_.write32(kRegDoorbell, 1);
  doorbell_due_ = false;
}

bool Agent::send(uint16_t channel, const Header& header, const std::vector<uint8_t>& body) {
  if (!attached_ || body.size() > kMaxBody) {
    ++counters_.dropped;
    return false;
  }
  auto packet = encode_packet(channel, header, body);
  uint32_t used = tx_write_ - load_index(ring_.base, kTxRead);
  if (used > tx_size()) {  // the host's tx_read is impossible
    broken_ = true;
    ++counters_.dropped;
    return false;
  }
  if (packet.size() > tx_size() - used) {  // full: the host is not reading; drop, do not wait
    ++counters_.dropped;
    doorbell_due_ = true;
    return false;
  }
  copy_in(tx_data(), tx_size(), tx_write_, packet.data(), static_cast<uint32_t>(packet.size()));
  tx_write_ += static_cast<uint32_t>(packet.size());
  store_index(ring_.base, kTxWrite, tx_write_);
  ++counters_.packets_sent;
  doorbell_due_ = true;
  return true;
}

// Gives the host a bounded time to take TX (before power-off, so COMPLETE reaches it first).
void Agent::wait_tx_drained() {
  doorbell();
  auto until = std::chrono::steady_clock::now() + options_.drain_timeout;
  while (load_index(ring_.base, kTxRead) != tx_write_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Agent::service() {
  if (!attached_) {
    // Gave up (or ATTACH failed): only a host RESET brings us back.
    if (device_.read32(kRegIsr) & kIsrReset) {
      ++counters_.host_resets;
      relinks_without_hello_ = 0;
      attach();
    }
    return false;
  }
  uint32_t isr = device_.read32(kRegIsr);  // read-to-clear: deasserts the level-triggered line
  if (isr & kIsrReset) {
    ++counters_.host_resets;
    log_line("host reset the link: attaching again");
    ++counters_.relinks;
    attach();
    return false;
  }
  bool more = false;
  for (uint32_t handled = 0;; ++handled) {
    uint32_t write = load_index(ring_.base, kRxWrite);
    if (write == rx_read_) break;
    if (handled == options_.rx_budget) {
      more = true;
      break;
    }
    uint32_t queued = write - rx_read_;
    uint8_t head[kPacketHeaderSize];
    if (queued > rx_size() || queued < kPacketHeaderSize) {
      broken_ = true;
      break;
    }
    copy_out(rx_data(), rx_size(), rx_read_, head, kPacketHeaderSize);
    uint32_t chanword = get32(head);
    uint32_t length = get32(head + 4);
    if (length < kMinPayload || length > kMaxPayload || padded(length) > queued) {
      broken_ = true;
      break;
    }
    std::vector<uint8_t> payload(length);  // copied out before parsing: the host may change it
    copy_out(rx_data(), rx_size(), rx_read_ + kPacketHeaderSize, payload.data(), length);
    rx_read_ += padded(length);
    store_index(ring_.base, kRxRead, rx_read_);
    doorbell_due_ = true;  // RX space freed: the host may have more queued
    ++counters_.packets_received;
    dispatch(chanword, payload);
    if (broken_ || !attached_) break;
  }
  if (broken_) {
    log_line("corrupt ring from the host: resetting the link");
    relink();
    return false;
  }
  if (doorbell_due_ && attached_) doorbell();
  return more;
}

void Agent::run(std::chrono::milliseconds poll_interval, const std::atomic<bool>& stop) {
  if (!start()) log_line("waiting for the host to reset the link");
  auto next_check = std::chrono::steady_clock::now();
  while (!stop.load()) {
    bool more = service();
    if (std::chrono::steady_clock::now() >= next_check) {
      check_sessions();
      next_check = std::chrono::steady_clock::now() + options_.session_check_interval;
    }
    if (!more) device_.wait(poll_interval);
  }
}

bool Agent::ready() const {
  if (!connected_ || offers_seen_ < offers_expected_) return false;
  for (const auto& c : channels_) {
    if (c.state == ChannelState::kOpening) return false;
  }
  return true;
}

// --- messages -------------------------------------------------------------------------------------

void Agent::dispatch(uint32_t chanword, const std::vector<uint8_t>& payload) {
  Message m;
  if ((chanword >> 16) != 0 ||
      !decode_payload(payload.data(), static_cast<uint32_t>(payload.size()), &m.header)) {
    ++counters_.dropped;
    return;
  }
  m.channel = static_cast<uint16_t>(chanword);
  m.body.assign(payload.begin() + kMessageHeaderSize, payload.end());
  if (m.channel == kControlChannel) return control(m);
  int service = service_of_channel(m.channel);
  if (service < 0) return refuse(m, kEInvalidArg);
  if (channels_[service].state != ChannelState::kReady) return refuse(m, 0x8007139F);  // ERROR_INVALID_STATE
  switch (service) {
    case kServiceHeartbeat: return heartbeat(m);
    case kServiceOsInfo: return os_info(m);
    case kServiceShutdown: return shutdown_service(m);
    case kServiceTimeSync: return time_sync(m);
  }
}

int Agent::service_of_channel(uint16_t channel) const {
  for (uint16_t s = 1; s <= kServices; ++s) {
    if (channels_[s].id == channel && channels_[s].state != ChannelState::kNone) return s;
  }
  return -1;
}

void Agent::reply(const Message& request, uint32_t status, const std::vector<uint8_t>& body) {
  Header h;
  h.type = request.header.type;
  h.flags = kFlagResponse;
  h.status = status;
  h.transaction = request.header.transaction;
  send(request.channel, h, body);
}

// Answers a request with an empty-bodied failure; anything else is just dropped.
void Agent::refuse(const Message& m, uint32_t status) {
  if (m.header.flags == kFlagRequest) {
    reply(m, status, {});
  } else {
    ++counters_.dropped;
  }
}

void Agent::notify(uint16_t channel, uint16_t type, uint32_t status, const std::vector<uint8_t>& body) {
  Header h;
  h.type = type;
  h.flags = kFlagNotification;
  h.status = status;
  send(channel, h, body);
}

void Agent::control(const Message& m) {
  if (m.header.flags == kFlagRequest) return refuse(m, kENotImpl);  // the host asks nothing on 0
  if (m.header.flags == kFlagNotification) {
    if (m.header.type == kMsgOffer) return on_offer(m);
  } else if (m.header.type == kMsgHello) {
    return on_hello_response(m);
  } else if (m.header.type == kMsgOpen) {
    return on_open_response(m);
  } else if (m.header.type == kMsgNegotiate) {
    return on_negotiate_response(m);
  }
  ++counters_.dropped;
}

void Agent::on_hello_response(const Message& m) {
  if (connected_ || m.header.transaction != hello_txid_) {
    ++counters_.dropped;
    return;
  }
  if (m.header.status & 0x80000000u) {
    log_line("HELLO refused (status 0x%08x)", m.header.status);
    attached_ = false;  // as agent.inc: failed until the host resets the link
    return;
  }
  offers_expected_ = m.body.size() >= 8 ? std::min(get32(m.body.data() + 4), kMaxOffers) : kServices;
  relinks_without_hello_ = 0;  // the host is talking sense again
  connected_ = true;
  log_line("connected (host version %u)", m.body.size() >= 4 ? get32(m.body.data()) : 0);
}

// u16 channel_id, u16 service_id, u16 min_version, u16 max_version: a service we implement is
// opened and negotiated at once (the host handles TX in order, so NEGOTIATE finds it open).
void Agent::on_offer(const Message& m) {
  if (!connected_ || m.body.size() < 8) {
    ++counters_.dropped;
    return;
  }
  uint16_t channel = get16(m.body.data());
  uint16_t service = get16(m.body.data() + 2);
  uint16_t min_version = get16(m.body.data() + 4);
  uint16_t max_version = get16(m.body.data() + 6);
  ++offers_seen_;
  if (service == 0 || service > kServices) return;                   // never heard of it
  if (channels_[service].state != ChannelState::kNone) return;       // offered twice: keep the first
  if ((options_.features & kServiceFeatures[service]) == 0) return;  // not enabled
  if (channel == kControlChannel || service_of_channel(channel) >= 0) return;
  if (min_version > kMessageVersion || max_version < kMessageVersion) return;
  Channel& c = channels_[service];
  c.id = channel;
  c.state = ChannelState::kOpening;
  c.open_txid = new_txid();
  c.negotiate_txid = new_txid();
  Header open;
  open.type = kMsgOpen;
  open.flags = kFlagRequest;
  open.transaction = c.open_txid;
  send(kControlChannel, open, BodyWriter().u16(channel).u16(0).take());
  Header negotiate;
  negotiate.type = kMsgNegotiate;
  negotiate.flags = kFlagRequest;
  negotiate.transaction = c.negotiate_txid;
  send(kControlChannel, negotiate,
       BodyWriter().u16(channel).u16(kMessageVersion).u16(kMessageVersion).u16(0).take());
}

void Agent::on_open_response(const Message& m) {
  for (uint16_t s = 1; s <= kServices; ++s) {
    Channel& c = channels_[s];
    if (c.state == ChannelState::kOpening && c.open_txid == m.header.transaction) {
      if (m.header.status & 0x80000000u) {
        log_line("channel %u: OPEN refused (0x%08x)", c.id, m.header.status);
        c.state = ChannelState::kFailed;
      }
      return;
    }
  }
  ++counters_.dropped;
}

void Agent::on_negotiate_response(const Message& m) {
  for (uint16_t s = 1; s <= kServices; ++s) {
    Channel& c = channels_[s];
    if (c.state != ChannelState::kOpening || c.negotiate_txid != m.header.transaction) continue;
    if ((m.header.status & 0x80000000u) || m.body.size() < 4 || get16(m.body.data() + 2) != kMessageVersion) {
      log_line("channel %u: NEGOTIATE failed (0x%08x)", c.id, m.header.status);
      c.state = ChannelState::kFailed;
      return;
    }
    c.state = ChannelState::kReady;
    // os-info: tell the host what we are without waiting to be asked.
    if (s == kServiceOsInfo) notify(c.id, kMsgOsInfoChanged, kSOk, os_info_body());
    if (ready()) log_line("ready (features 0x%02x)", options_.features);
    return;
  }
  ++counters_.dropped;
}

// --- services ---------------------------------------------------------------------------------------

// BEAT request (u64 sequence) -> BEAT response (sequence + 1).
void Agent::heartbeat(const Message& m) {
  if (m.header.type != kMsgBeat) return refuse(m, kENotImpl);
  if (m.header.flags != kFlagRequest) {
    ++counters_.dropped;
    return;
  }
  if (m.body.size() < 8) return refuse(m, kEInvalidArg);
  reply(m, kSOk, BodyWriter().u64(get64(m.body.data()) + 1).take());
}

void Agent::os_info(const Message& m) {
  if (m.header.type != kMsgOsInfoGet) return refuse(m, kENotImpl);
  if (m.header.flags != kFlagRequest) {
    ++counters_.dropped;
    return;
  }
  reply(m, kSOk, os_info_body());
}

// NUL-terminated key=value strings; values capped at 256 bytes and the whole body at what fits
// one packet (the host keeps at most 64 pairs anyway).
std::vector<uint8_t> Agent::os_info_body() {
  BodyWriter body;
  for (const auto& [key, value] : system_.os_info()) {
    std::string pair = key + "=" + value.substr(0, 256);
    for (char& ch : pair) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) ch = '?';
    }
    if (body.size() + pair.size() + 1 > kMaxBody) break;
    body.cstring(pair);
  }
  return body.take();
}

// TIME notification (u64 Unix ns): remembered, and handed to the system (which may set the clock).
void Agent::time_sync(const Message& m) {
  if (m.header.type != kMsgTime || m.header.flags != kFlagNotification) return refuse(m, kENotImpl);
  if (m.body.size() < 8) {
    ++counters_.dropped;
    return;
  }
  host_time_ns_ = get64(m.body.data());
  system_.host_time(host_time_ns_);
}

void Agent::shutdown_service(const Message& m) {
  if (m.header.flags != kFlagRequest) {  // the host sends nothing else on this channel
    ++counters_.dropped;
    return;
  }
  uint32_t feature = 0;
  switch (m.header.type) {
    case kMsgShutdown: feature = kFeatureShutdown; break;
    case kMsgRestart: feature = kFeatureRestart; break;
    case kMsgLogoff: feature = kFeatureLogoff; break;
    case kMsgSessions: feature = kFeatureSessionList; break;
    default: return refuse(m, kENotImpl);
  }
  if ((options_.features & feature) == 0) {  // a request for a feature we did not announce
    ++counters_.dropped;
    std::vector<uint8_t> body;
    if (m.header.type != kMsgSessions) body = BodyWriter().u32(0).take();  // sessions_found 0
    return reply(m, kENotImpl, body);
  }
  if (m.header.type == kMsgSessions) return reply(m, kSOk, session_list_body(system_.sessions()));
  operation(m);
}

// SHUTDOWN/RESTART: ack, COMPLETE, let the host read it, then the power action.
// LOGOFF: ack with the number of sessions; per session in logon order: end it, PROGRESS
// (done i of N, its name); COMPLETE (S_OK or the first failure) and SESSION_CHANGED with the
// new list. Nobody logged on: COMPLETE 0x80070520.
void Agent::operation(const Message& m) {
  auto sessions = system_.sessions();
  uint32_t total = static_cast<uint32_t>(sessions.size());
  reply(m, kSOk, BodyWriter().u32(total).take());
  uint32_t txid = m.header.transaction;
  auto complete = [&](uint32_t outcome) { notify(m.channel, kMsgComplete, outcome, BodyWriter().u32(txid).take()); };
  if (m.header.type != kMsgLogoff) {
    bool forced = m.body.size() >= 4 && (get32(m.body.data()) & kShutdownForced);
    bool restart = m.header.type == kMsgRestart;
    log_line("%s requested (forced=%d)", restart ? "restart" : "shutdown", forced ? 1 : 0);
    complete(kSOk);
    wait_tx_drained();
    if (restart) {
      system_.restart(forced);
    } else {
      system_.shutdown(forced);
    }
    return;
  }
  if (total == 0) {
    log_line("logoff: nobody is logged on");
    return complete(kENoSuchLogonSession);
  }
  doorbell();  // the ack goes out before the (possibly slow) session ends
  uint32_t outcome = kSOk;
  for (uint32_t i = 0; i < total; ++i) {
    log_line("logoff: %s (%s)", sessions[i].name.c_str(), sessions[i].id.c_str());
    uint32_t result = system_.end_session(sessions[i]);
    if (result != kSOk && outcome == kSOk) outcome = result;
    notify(m.channel, kMsgProgress, kSOk,
           BodyWriter().u32(txid).u32(i + 1).u32(total).fixed(sessions[i].name, kSessionNameSize).take());
    doorbell();
  }
  complete(outcome);
  send_session_changed(system_.sessions());
}

std::vector<uint8_t> Agent::session_list_body(const std::vector<Session>& sessions) {
  uint32_t count = std::min<uint32_t>(static_cast<uint32_t>(sessions.size()), kMaxSessionsInList);
  BodyWriter body;
  body.u32(count);
  for (uint32_t i = 0; i < count; ++i) body.fixed(sessions[i].name, kSessionNameSize);
  return body.take();
}

void Agent::send_session_changed(const std::vector<Session>& sessions) {
  const Channel& c = channels_[kServiceShutdown];
  if ((options_.features & kFeatureSessionList) == 0 || c.state != ChannelState::kReady) return;
  notify(c.id, kMsgSessionChanged, kSOk, session_list_body(sessions));
  sessions_sent_.clear();
  for (const auto& s : sessions) sessions_sent_.push_back(s.name);
  sessions_sent_valid_ = true;
}

void Agent::check_sessions() {
  if (!attached_ || channels_[kServiceShutdown].state != ChannelState::kReady) return;
  auto sessions = system_.sessions();
  std::vector<std::string> names;
  for (const auto& s : sessions) names.push_back(s.name);
  if (sessions_sent_valid_ && names == sessions_sent_) return;
  send_session_changed(sessions);
  if (doorbell_due_) doorbell();
}

}  // namespace kvpc::agent
