// The integration API on the control socket: logoff, shutdown, restart, guest, events.
//
// Each request opens the VM's IVMGuestOS as the caller (peer credentials of the socket) and
// calls it exactly as a C++ program would, so the socket gives the same HRESULTs as the API.
// Calls that wait for the guest run on a thread of their own (VmSession::run_detached): the
// API refuses to wait on the event loop, which is what delivers the guest's answers.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "integration/api/vm_guest_os.h"
#include "integration/api/vm_virtual_machine.h"
#include "tools/integration_json.h"
#include "tools/session_vm_host.h"

namespace kvpc {

namespace {

CallerIdentity caller_of(const PeerCredentials& peer) {
  CallerIdentity caller{peer.uid, peer.gid, {}};
  // Supplementary groups are not in SO_PEERCRED; the peer's /proc entry has them.
  std::ifstream status(fmt::format("/proc/{}/status", peer.pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream groups(line.substr(7));
    uint32_t gid;
    while (groups >> gid) caller.supplementary_gids.push_back(gid);
  }
  return caller;
}

std::optional<std::chrono::milliseconds> optional_ms(const nlohmann::json& params, const char* key) {
  if (!params.contains(key) || !params[key].is_number_integer()) return std::nullopt;
  return std::chrono::milliseconds(params[key].get<int64_t>());
}

Status check_params(const nlohmann::json& params) {
  for (const char* key : {"timeout_ms", "ack_timeout_ms"}) {
    if (params.contains(key) && !params[key].is_number_integer()) {
      return make_error(fmt::format("\"{}\" must be an integer number of milliseconds", key));
    }
  }
  for (const char* key : {"wait", "force"}) {
    if (params.contains(key) && !params[key].is_boolean()) return make_error(fmt::format("\"{}\" must be true or false", key));
  }
  return ok_status();
}

// Opens the VM's guest OS for the caller; on failure `hresult` says why.
std::shared_ptr<IVMGuestOS> open_guest(const std::shared_ptr<SessionVmHost>& host, const PeerCredentials& peer,
                                       HRESULT& hresult) {
  std::shared_ptr<VMVirtualMachine> vm;
  hresult = VMVirtualMachine::open(host, caller_of(peer), &vm);
  if (failed(hresult)) return nullptr;
  std::shared_ptr<IVMGuestOS> guest;
  hresult = vm->get_GuestOS(&guest);
  return failed(hresult) ? nullptr : guest;
}

void install_operation(VmSession& session, const std::shared_ptr<SessionVmHost>& host, const std::string& method) {
  session.server().add_handler(method, [&session, host, method](const ControlServer::Request& request,
                                                                ControlServer::Reply reply) {
    if (auto valid = check_params(request.params); !valid) {
      reply(ControlServer::error(request.id, "invalid_params", valid.error().message));
      return;
    }
    session.run_detached([&session, host, method, request, reply] {
      nlohmann::json result = {{"vm", session.config().name}, {"method", method}};
      HRESULT hresult = S_OK;
      auto guest = open_guest(host, request.peer, hresult);
      std::shared_ptr<IVMTask> task;
      if (guest) {
        OperationTimeouts timeouts;
        timeouts.deadline = optional_ms(request.params, "timeout_ms");
        timeouts.ack_window = optional_ms(request.params, "ack_timeout_ms");
        bool forced = request.params.value("force", false);
        if (method == "logoff") hresult = guest->LogoffWithTimeouts(timeouts, &task);
        else if (method == "shutdown") hresult = guest->ShutdownWithTimeouts(forced, timeouts, &task);
        else hresult = guest->RestartWithTimeouts(forced, timeouts, &task);
      }
      add_hresult(result, hresult);
      if (succeeded(hresult) && task) {
        if (request.params.value("wait", false)) {
          long last_percent = -1;
          bool complete = false;
          while (!complete) {
            task->WaitForCompletion(100);
            task->get_IsComplete(&complete);
            long percent = 0;
            task->get_PercentCompleted(&percent);
            if (percent != last_percent && !complete) {
              last_percent = percent;
              reply({{"id", request.id}, {"event", "progress"}, {"percent_completed", percent}});
            }
          }
        }
        result["task"] = task_json(*task);
      }
      reply(ControlServer::ok(request.id, result));
    });
  });
}

void install_guest_properties(VmSession& session, const std::shared_ptr<SessionVmHost>& host) {
  session.server().add_handler("guest", [&session, host](const ControlServer::Request& request,
                                                         ControlServer::Reply reply) {
    session.run_detached([&session, host, request, reply] {
      nlohmann::json result = {{"vm", session.config().name}, {"method", "guest"}};
      HRESULT hresult = S_OK;
      auto guest = open_guest(host, request.peer, hresult);
      add_hresult(result, hresult);
      if (guest) result["properties"] = guest_properties_json(*guest);
      reply(ControlServer::ok(request.id, result));
    });
  });
}

// A subscriber that turns VM events into lines on one connection.
class EventLineSink final : public IVMVirtualMachineEvents {
 public:
  EventLineSink(nlohmann::json id, ControlServer::Reply reply) : id_(std::move(id)), reply_(std::move(reply)) {}
  HRESULT OnStateChange(VMVMState state) override { return send("OnStateChange", {{"state", vm_state_name(state)}, {"state_code", static_cast<int>(state)}}); }
  HRESULT OnTripleFault() override { return send("OnTripleFault", {}); }
  HRESULT OnHeartbeatStopped() override { return send("OnHeartbeatStopped", {}); }
  HRESULT OnAdditionsUninstalled() override { return send("OnAdditionsUninstalled", {}); }
  HRESULT OnAdditionsAvailable() override { return send("OnAdditionsAvailable", {}); }
  HRESULT OnGuestShutdown() override { return send("OnGuestShutdown", {}); }
  HRESULT OnGuestLogoff(VMLogoffType type) override {
    return send("OnGuestLogoff", {{"logoff_type", static_cast<int>(type)}, {"logoff_type_name", logoff_type_name(type)}});
  }

 private:
  HRESULT send(const char* name, nlohmann::json fields) {
    fields["id"] = id_;
    fields["event"] = name;
    reply_(fields);
    return S_OK;
  }
  nlohmann::json id_;
  ControlServer::Reply reply_;
};

void install_events(VmSession& session, const std::shared_ptr<SessionVmHost>& host) {
  // connection -> its VM object and sink; touched on the loop thread only.
  auto subscriptions = std::make_shared<std::map<uint64_t, std::pair<std::shared_ptr<VMVirtualMachine>,
                                                                     std::shared_ptr<EventLineSink>>>>();
  session.server().add_handler("events", [&session, host, subscriptions](const ControlServer::Request& request,
                                                                         ControlServer::Reply reply) {
    std::shared_ptr<VMVirtualMachine> vm;
    VMVirtualMachine::open(host, caller_of(request.peer), &vm);
    auto sink = std::make_shared<EventLineSink>(request.id, reply);
    HRESULT hresult = vm->Subscribe(sink);
    nlohmann::json result = {{"vm", session.config().name}, {"method", "events"}};
    add_hresult(result, hresult);
    if (succeeded(hresult)) {
      VMVMState state = vmVMState_Invalid;
      vm->get_State(&state);
      result["state"] = vm_state_name(state);
      (*subscriptions)[request.connection] = {vm, sink};
    }
    // The first line answers the request; events follow as lines with "event".
    reply(ControlServer::ok(request.id, result));
  });
  session.server().on_disconnect([subscriptions](uint64_t connection) {
    auto it = subscriptions->find(connection);
    if (it == subscriptions->end()) return;
    it->second.first->Unsubscribe(it->second.second);
    subscriptions->erase(it);
  });
}

struct Registration {
  Registration() {
    VmSession::register_extension([](VmSession& session) {
      auto host = std::make_shared<SessionVmHost>(session);
      host->attach();
      for (const char* method : {"logoff", "shutdown", "restart"}) install_operation(session, host, method);
      install_guest_properties(session, host);
      install_events(session, host);
    });
  }
};
const Registration registration;

}  // namespace

}  // namespace kvpc
