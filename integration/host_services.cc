#include "integration/host_services.h"

#include <sys/epoll.h>

#include <algorithm>

#include "vmm/observe.h"

namespace kvpc {

using namespace proto;

namespace {

size_t operation_index(GuestOperation operation) { return static_cast<size_t>(operation); }

uint16_t operation_message(GuestOperation operation) {
  switch (operation) {
    case GuestOperation::kShutdown: return kMsgShutdown;
    case GuestOperation::kRestart: return kMsgRestart;
    case GuestOperation::kLogoff: return kMsgLogoff;
  }
  return 0;
}

uint32_t operation_feature(GuestOperation operation) {
  switch (operation) {
    case GuestOperation::kShutdown: return kFeatureShutdown;
    case GuestOperation::kRestart: return kFeatureRestart;
    case GuestOperation::kLogoff: return kFeatureLogoff;
  }
  return 0;
}

std::optional<GuestOperation> operation_of_message(uint16_t type) {
  switch (type) {
    case kMsgShutdown: return GuestOperation::kShutdown;
    case kMsgRestart: return GuestOperation::kRestart;
    case kMsgLogoff: return GuestOperation::kLogoff;
    default: return std::nullopt;
  }
}

}  // namespace

HostServices::HostServices(IntegrationDevice& device, HostServicesOptions options)
    : device_(device),
      options_(std::move(options)),
      link_(device),
      channels_(link_),
      meter_(options_.heartbeat_interval),
      time_sync_enabled_(options_.time_sync_enabled) {
  if (!options_.clock) options_.clock = [] { return std::chrono::steady_clock::now(); };
  if (!options_.unix_time_ns) {
    options_.unix_time_ns = [] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    };
  }
}

HostServices::~HostServices() { stop(); }

Status HostServices::start(EventLoop& loop) {
  if (device_.doorbell_eventfd() < 0) return make_error("integration host services: device not initialised");
  if (auto status = loop.add_fd(device_.doorbell_eventfd(), EPOLLIN, [this](uint32_t) { process(); }); !status) {
    return status;
  }
  std::lock_guard lock(state_);
  loop_ = &loop;
  heartbeat_timer_ = loop.add_timer(meter_.interval(), true, [this] { heartbeat_tick(); });
  time_sync_timer_ = loop.add_timer(options_.time_sync_interval, true, [this] { time_sync_tick(); });
  return ok_status();
}

void HostServices::stop() {
  std::lock_guard delivery(delivery_);
  EventLoop* loop = nullptr;
  {
    std::lock_guard lock(state_);
    if (stopped_) return;
    stopped_ = true;
    break_operations(VM_E_VM_NOT_RUNNING);
    loop = loop_;
    loop_ = nullptr;
  }
  if (loop != nullptr) {
    loop->remove_fd(device_.doorbell_eventfd());
    loop->cancel_timer(heartbeat_timer_);
    loop->cancel_timer(time_sync_timer_);
  }
  deliver();
}

void HostServices::deliver() {
  std::vector<Deferred> calls;
  {
    std::lock_guard lock(state_);
    calls.swap(deferred_);
  }
  for (auto& call : calls) call();
}

std::chrono::steady_clock::time_point HostServices::now() const { return options_.clock(); }

uint32_t HostServices::next_transaction_id() {
  // 0 means "no transaction" in notifications; skip it on wrap-around.
  if (++last_transaction_id_ == 0) ++last_transaction_id_;
  return last_transaction_id_;
}

// --- Loop callbacks ---------------------------------------------------------------------------------

void HostServices::process() {
  std::lock_guard delivery(delivery_);
  {
    std::lock_guard lock(state_);
    device_.consume_doorbell();
    if (stopped_) return;
    link_.poll(*this);
  }
  deliver();
}

void HostServices::heartbeat_tick() {
  std::lock_guard lock(state_);
  if (stopped_) return;
  link_.flush();
  if (!channels_.ready(kHeartbeatChannel)) return;
  uint64_t sequence = ++beat_sequence_;
  uint32_t transaction = next_transaction_id();
  meter_.on_sent(sequence, transaction, now());
  ++counters_.beats_sent;
  // A guest that stopped reading RX must not fill the queue with beats and crowd out a
  // LOGOFF: the beat still counts as expected, it just is not queued.
  if (link_.queued() >= kMaxQueuedMessages / 2) return;
  auto body = encode_u64(sequence);
  link_.send(kHeartbeatChannel, make_header(kMsgBeat, kFlagRequest, transaction, static_cast<uint32_t>(body.size())),
             body);
}

void HostServices::time_sync_tick() {
  std::lock_guard lock(state_);
  if (stopped_) return;
  link_.flush();
  send_time();
}

void HostServices::send_time() {
  if (!time_sync_enabled_ || !channels_.ready(kTimeSyncChannel)) return;
  auto body = encode_u64(options_.unix_time_ns());
  if (link_.send(kTimeSyncChannel, make_header(kMsgTime, kFlagNotification, 0, static_cast<uint32_t>(body.size())),
                 body)) {
    ++counters_.time_syncs_sent;
  }
}

void HostServices::send_request(uint16_t channel, uint16_t type, std::span<const uint8_t> body) {
  link_.send(channel, make_header(type, kFlagRequest, next_transaction_id(), static_cast<uint32_t>(body.size())), body);
}

// --- Link and channel events -----------------------------------------------------------------------

void HostServices::on_link_up() {}

void HostServices::on_link_down() {
  channels_.reset();
  forget_agent();
}

void HostServices::forget_agent() {
  break_operations(DISP_E_EXCEPTION);
  agent_present_ = false;
  features_ = 0;
  agent_name_.clear();
  // What a previous agent said is stale once it is gone (a common complaint about agents).
  os_info_.clear();
  sessions_.reset();
}

void HostServices::on_hello(const HelloRequest& hello) {
  if (agent_present_) forget_agent();  // the agent restarted: its operations cannot finish
  agent_present_ = true;
  features_ = hello.features;
  agent_name_ = hello.agent_name;
}

void HostServices::on_channel_ready(uint16_t channel) {
  switch (channel) {
    case kOsInfoChannel: send_request(kOsInfoChannel, kMsgOsInfoGet, {}); break;
    case kShutdownChannel:
      if ((features_ & kFeatureSessionList) != 0) send_request(kShutdownChannel, kMsgSessions, {});
      break;
    case kTimeSyncChannel: send_time(); break;
    default: break;
  }
}

void HostServices::on_channel_closed(uint16_t channel) {
  if (channel == kShutdownChannel) break_operations(DISP_E_EXCEPTION);
}

void HostServices::break_operations(HRESULT status) {
  for (auto& slot : operations_) {
    if (!slot) continue;
    ++counters_.operations_broken;
    deferred_.push_back([observer = slot->observer, status] { observer->on_complete(status); });
    slot.reset();
  }
}

void HostServices::on_message(const Message& message) {
  if (observe::on(observe::kIntegration)) [[unlikely]] {
    observe::integration_message(true, message.channel, message.header.type, message.header.transaction_id,
                                 message.header.size);
  }
  if (channels_.route(message, *this) != ChannelTable::Route::kDeliver) return;
  switch (message.channel) {
    case kHeartbeatChannel: handle_heartbeat(message); break;
    case kOsInfoChannel: handle_os_info(message); break;
    case kShutdownChannel: handle_shutdown(message); break;
    default:  // time sync: the guest has nothing to say on it
      ChannelTable::refuse(link_, message, E_NOTIMPL, LinkError::kUnknownMessage);
      break;
  }
}

// --- Services ---------------------------------------------------------------------------------------

void HostServices::handle_heartbeat(const Message& message) {
  if (message.header.type != kMsgBeat || !message.header.is_response()) {
    ChannelTable::refuse(link_, message, E_NOTIMPL, message.header.type == kMsgBeat ? LinkError::kUnexpectedMessage
                                                                                     : LinkError::kUnknownMessage);
    return;
  }
  auto value = decode_u64(message.body);
  if (!value) {
    link_.count_error(LinkError::kMalformedMessage);
    return;
  }
  if (!meter_.on_answer(message.header.transaction_id, *value, now())) {
    link_.count_error(LinkError::kUnexpectedMessage);
  }
}

void HostServices::handle_os_info(const Message& message) {
  bool get_response = message.header.type == kMsgOsInfoGet && message.header.is_response();
  bool changed = message.header.type == kMsgOsInfoChanged && message.header.is_notification();
  if (!get_response && !changed) {
    bool known = message.header.type == kMsgOsInfoGet || message.header.type == kMsgOsInfoChanged;
    ChannelTable::refuse(link_, message, E_NOTIMPL, known ? LinkError::kUnexpectedMessage : LinkError::kUnknownMessage);
    return;
  }
  if (failed(message.header.status)) return;  // the agent could not gather it: keep what we had
  KeyValueParse parsed = decode_key_values(message.body);
  if (parsed.rejected != 0) link_.count_error(LinkError::kMalformedMessage);
  os_info_.clear();
  for (auto& [key, value] : parsed.pairs) os_info_[key] = std::move(value);
  ++counters_.os_info_updates;
}

void HostServices::handle_shutdown(const Message& message) {
  const MessageHeader& header = message.header;
  if (operation_of_message(header.type)) {
    if (!header.is_response()) {
      ChannelTable::refuse(link_, message, E_NOTIMPL, LinkError::kUnexpectedMessage);
      return;
    }
    handle_operation_ack(message);
    return;
  }
  switch (header.type) {
    case kMsgProgress:
      if (header.is_notification()) return handle_progress(message);
      break;
    case kMsgComplete:
      if (header.is_notification()) return handle_complete(message);
      break;
    case kMsgSessions:
      if (header.is_response()) return handle_session_list(message);
      break;
    case kMsgSessionChanged:
      if (header.is_notification()) return handle_session_list(message);
      break;
    default:
      ChannelTable::refuse(link_, message, E_NOTIMPL, LinkError::kUnknownMessage);
      return;
  }
  // A known type in the wrong direction.
  ChannelTable::refuse(link_, message, E_NOTIMPL, LinkError::kUnexpectedMessage);
}

std::optional<HostServices::InFlight>* HostServices::find_operation(uint32_t transaction_id) {
  for (auto& slot : operations_) {
    if (slot && slot->transaction_id == transaction_id) return &slot;
  }
  return nullptr;
}

void HostServices::handle_operation_ack(const Message& message) {
  auto* slot = find_operation(message.header.transaction_id);
  if (slot == nullptr || (*slot)->kind != *operation_of_message(message.header.type) || (*slot)->acknowledged) {
    link_.count_error(LinkError::kUnexpectedMessage);
    return;
  }
  auto observer = (*slot)->observer;
  if (failed(message.header.status)) {
    HRESULT status = message.header.status;
    ++counters_.operations_rejected;
    slot->reset();
    deferred_.push_back([observer, status] { observer->on_rejected(status); });
    return;
  }
  // S_OK with a missing sessions_found is tolerated as 0: the acceptance is what matters.
  auto ack = decode_operation_ack(message.body);
  if (!ack) link_.count_error(LinkError::kMalformedMessage);
  uint32_t sessions = ack ? ack->sessions_found : 0;
  (*slot)->acknowledged = true;
  deferred_.push_back([observer, sessions] { observer->on_acknowledged(sessions); });
}

void HostServices::handle_progress(const Message& message) {
  auto progress = decode_progress(message.body);
  if (!progress) {
    link_.count_error(LinkError::kMalformedMessage);
    return;
  }
  auto* slot = find_operation(progress->request_transaction_id);
  if (slot == nullptr) {
    link_.count_error(LinkError::kUnexpectedMessage);
    return;
  }
  // The guest's numbers reach PercentCompleted: keep them sane whatever it sent.
  uint32_t total = progress->total;
  uint32_t done = std::min(progress->done, total);
  deferred_.push_back([observer = (*slot)->observer, done, total, name = std::move(progress->session_name)] {
    observer->on_progress(done, total, name);
  });
}

void HostServices::handle_complete(const Message& message) {
  auto complete = decode_complete(message.body);
  if (!complete) {
    link_.count_error(LinkError::kMalformedMessage);
    return;
  }
  auto* slot = find_operation(complete->request_transaction_id);
  if (slot == nullptr) {
    link_.count_error(LinkError::kUnexpectedMessage);
    return;
  }
  HRESULT status = message.header.status;
  ++counters_.operations_completed;
  deferred_.push_back([observer = (*slot)->observer, status] { observer->on_complete(status); });
  slot->reset();
}

void HostServices::handle_session_list(const Message& message) {
  if (failed(message.header.status)) return;
  auto names = decode_session_list(message.body);
  if (!names) {
    link_.count_error(LinkError::kMalformedMessage);
    return;
  }
  sessions_ = std::move(*names);
  ++counters_.session_updates;
}

// --- GuestServices ----------------------------------------------------------------------------------

bool HostServices::agent_present() const {
  std::lock_guard lock(state_);
  return agent_present_ && link_.up();
}

uint32_t HostServices::agent_features() const {
  std::lock_guard lock(state_);
  return agent_present_ ? features_ : 0;
}

bool HostServices::channel_ready(uint16_t service_id) const {
  std::lock_guard lock(state_);
  for (const auto& offer : kServiceOffers) {
    if (offer.service_id == service_id) return channels_.ready(offer.channel_id);
  }
  return false;
}

HeartbeatStatus HostServices::heartbeat() const {
  std::lock_guard lock(state_);
  return meter_.status(now());
}

std::map<std::string, std::string> HostServices::os_info() const {
  std::lock_guard lock(state_);
  return os_info_;
}

std::optional<std::vector<std::string>> HostServices::sessions() const {
  std::lock_guard lock(state_);
  return sessions_;
}

HRESULT HostServices::begin_operation(GuestOperation operation, bool forced,
                                      std::shared_ptr<GuestOperationObserver> observer) {
  if (!observer) return E_POINTER;
  size_t index = operation_index(operation);
  if (index >= operations_.size()) return E_INVALIDARG;
  std::lock_guard lock(state_);
  if (stopped_) return VM_E_VM_NOT_RUNNING;
  if (!link_.up() || !agent_present_) return DISP_E_EXCEPTION;
  if ((features_ & operation_feature(operation)) == 0 || !channels_.ready(kShutdownChannel)) {
    return VM_E_ADDITIONS_FEATURE_NOT_AVAIL;
  }
  if (operations_[index]) return E_BUSY;
  uint32_t transaction = next_transaction_id();
  uint32_t flags = (forced && operation != GuestOperation::kLogoff) ? kShutdownFlagForced : 0;
  auto body = encode_u32(flags);
  if (!link_.send(kShutdownChannel,
                  make_header(operation_message(operation), kFlagRequest, transaction,
                              static_cast<uint32_t>(body.size())),
                  body)) {
    return DISP_E_EXCEPTION;  // the RX queue is full of requests: the guest is not reading
  }
  operations_[index] = InFlight{operation, transaction, false, std::move(observer)};
  ++counters_.operations_started;
  return S_OK;
}

void HostServices::abandon_operation(GuestOperation operation, HRESULT outcome) {
  size_t index = operation_index(operation);
  if (index >= operations_.size()) return;
  std::lock_guard delivery(delivery_);
  {
    std::lock_guard lock(state_);
    auto& slot = operations_[index];
    if (!slot) return;
    ++counters_.operations_broken;
    deferred_.push_back([observer = slot->observer, outcome] { observer->on_complete(outcome); });
    slot.reset();  // a late COMPLETE for it is now "unexpected" and counted
  }
  deliver();
}

bool HostServices::time_sync_enabled() const {
  std::lock_guard lock(state_);
  return time_sync_enabled_;
}

void HostServices::set_time_sync_enabled(bool enabled) {
  std::lock_guard lock(state_);
  bool was = time_sync_enabled_;
  time_sync_enabled_ = enabled;
  if (enabled && !was && !stopped_) send_time();
}

std::string HostServices::agent_name() const {
  std::lock_guard lock(state_);
  return agent_name_;
}

HostServicesCounters HostServices::counters() const {
  std::lock_guard lock(state_);
  return counters_;
}

LinkCounters HostServices::link_counters() const {
  std::lock_guard lock(state_);
  return link_.counters();
}

std::optional<ChannelStatus> HostServices::channel_status(uint16_t channel) const {
  std::lock_guard lock(state_);
  return channels_.status(channel);
}


void HostServices::describe(StateWriter& out) const {
  std::lock_guard lock(state_);
  out.flag("agent_present", channels_.hello_seen());
  out.flag("link_up", link_.up());
  out.number("rx_queue_messages", link_.queued());
  out.begin("channels");
  for (const auto& offer : kServiceOffers) {
    auto status = channels_.status(offer.channel_id);
    if (!status) continue;
    out.begin(std::to_string(offer.channel_id));
    out.number("service_id", offer.service_id);
    out.text("state", status->state == ChannelState::kReady  ? "ready"
                      : status->state == ChannelState::kOpen ? "open"
                                                             : "closed");
    out.number("version", status->version);
    out.number("messages", status->messages);
    out.number("errors", status->errors);
    out.end();
  }
  out.end();
  out.number("control_errors", channels_.control_errors());
  out.begin("operations_in_flight");
  const char* names[] = {"shutdown", "restart", "logoff"};
  for (size_t i = 0; i < operations_.size(); ++i) {
    if (!operations_[i]) continue;
    out.begin(i < 3 ? names[i] : "other");
    out.number("transaction_id", operations_[i]->transaction_id);
    out.flag("acknowledged", operations_[i]->acknowledged);
    out.end();
  }
  out.end();
  const LinkCounters& link = link_.counters();
  out.begin("link_counters");
  out.number("packets_received", link.packets_received);
  out.number("packets_sent", link.packets_sent);
  out.number("messages_dropped", link.messages_dropped);
  out.number("polls_truncated", link.polls_truncated);
  out.number("link_ups", link.link_ups);
  out.number("link_downs", link.link_downs);
  out.end();
  out.begin("service_counters");
  out.number("operations_started", counters_.operations_started);
  out.number("operations_completed", counters_.operations_completed);
  out.number("operations_rejected", counters_.operations_rejected);
  out.number("operations_broken", counters_.operations_broken);
  out.number("beats_sent", counters_.beats_sent);
  out.number("time_syncs_sent", counters_.time_syncs_sent);
  out.number("os_info_updates", counters_.os_info_updates);
  out.number("session_updates", counters_.session_updates);
  out.end();
}
}  // namespace kvpc
