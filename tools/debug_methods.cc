// Debugging methods on the control socket: stats, trace, inspect (docs/control-socket.md,
// docs/debugging.md). All three answer on the event-loop thread; none waits for the guest
// except inspect, which parks the vCPUs for the few microseconds it takes to read registers.
#include <unistd.h>

#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/json_state_writer.h"
#include "tools/stats_json.h"
#include "tools/trace_control.h"
#include "tools/vm_session.h"
#include "vmm/observe.h"

namespace kvpc {

namespace {

bool is_owner(const ControlServer::Request& request) {
  return request.peer.uid == getuid() || request.peer.uid == 0;
}

nlohmann::json segment_json(const VcpuRegisters::Segment& s) {
  return {{"selector", s.selector}, {"base", s.base}, {"limit", s.limit}, {"type", s.type},
          {"dpl", s.dpl},           {"present", s.present}, {"l", s.long_mode}, {"db", s.default_big}};
}

nlohmann::json registers_json(uint32_t index, const VcpuRegisters& r) {
  nlohmann::json general = nlohmann::json::object();
  for (size_t i = 0; i < r.gpr.size(); ++i) general[VcpuRegisters::kGprNames[i]] = r.gpr[i];
  general["rip"] = r.rip;
  general["rflags"] = r.rflags;
  nlohmann::json segments = nlohmann::json::object();
  for (size_t i = 0; i < r.segments.size(); ++i) segments[VcpuRegisters::kSegmentNames[i]] = segment_json(r.segments[i]);
  return {{"vcpu", index},
          {"rip", r.rip},
          {"general", general},
          {"segments", segments},
          {"control", {{"cr0", r.cr0}, {"cr2", r.cr2}, {"cr3", r.cr3}, {"cr4", r.cr4}, {"cr8", r.cr8}, {"efer", r.efer}}},
          {"tables", {{"gdt_base", r.gdt_base}, {"gdt_limit", r.gdt_limit}, {"idt_base", r.idt_base},
                      {"idt_limit", r.idt_limit}}}};
}

// Every device on the buses, once, in bus order, with the ranges it answers.
nlohmann::json devices_json(Machine& machine, const std::string& only) {
  std::vector<IoDevice*> order;
  std::map<IoDevice*, nlohmann::json> ranges;
  auto note = [&](IoDevice* device, const char* space, uint64_t base, uint64_t length) {
    if (!ranges.count(device)) order.push_back(device);
    ranges[device].push_back({{"space", space}, {"base", base}, {"length", length}});
  };
  for (const auto& range : machine.pio().ranges()) note(range.device, "pio", range.base, range.length);
  for (const auto& range : machine.mmio().ranges()) note(range.device, "mmio", range.base, range.length);
  nlohmann::json out = nlohmann::json::object();
  for (IoDevice* device : order) {
    const std::string name(device->name());
    if (!only.empty() && only != name) continue;
    JsonStateWriter writer;
    device->describe(writer);
    nlohmann::json entry = {{"ranges", ranges[device]}, {"state", writer.take()}};
    if (name == "integration") {
      JsonStateWriter services;
      machine.board().services().describe(services);
      entry["services"] = services.take();
    }
    out[name] = entry;
  }
  return out;
}

void install(VmSession& session) {
  session.server().add_handler("stats", [&session](const ControlServer::Request& request, ControlServer::Reply reply) {
    auto machine = session.machine();
    if (!machine) {
      reply(ControlServer::error(request.id, "not_running", "the VM has no machine (it is starting or has stopped)"));
      return;
    }
    nlohmann::json result = machine_stats_json(*machine);
    result["vm"] = session.config().name;
    result["accelerator"] = std::string(machine->accelerator());
    result["boots"] = session.boot_count();
    reply(ControlServer::ok(request.id, result));
  });

  session.server().add_handler("trace", [&session](const ControlServer::Request& request, ControlServer::Reply reply) {
    if (!is_owner(request)) {
      spdlog::warn("audit: uid {} (pid {}) was refused 'trace' on VM {}", request.peer.uid, request.peer.pid,
                   session.config().name);
      reply(ControlServer::error(request.id, "access_denied", "only the VM's owner or root may trace it"));
      return;
    }
    auto& control = TraceControl::instance();
    if (request.params.contains("categories")) {
      if (!request.params["categories"].is_string()) {
        reply(ControlServer::error(request.id, "invalid_params",
                                   "\"categories\" must be a string such as \"pio,mmio\" or \"off\""));
        return;
      }
      uint32_t bits = 0;
      std::string_view bad;
      const std::string text = request.params["categories"].get<std::string>();
      if (!observe::parse_categories(text, bits, bad)) {
        reply(ControlServer::error(request.id, "invalid_params",
                                   fmt::format("unknown trace category '{}'; use pio, mmio, irq, integration, devices, "
                                               "all or off",
                                               bad)));
        return;
      }
      if (auto status = control.set(bits); !status) {
        reply(ControlServer::error(request.id, "failed", status.error().message));
        return;
      }
    }
    reply(ControlServer::ok(request.id, {{"vm", session.config().name},
                                         {"categories", observe::categories_text(control.categories())},
                                         {"destination", control.destination()}}));
  });

  session.server().add_handler("inspect", [&session](const ControlServer::Request& request, ControlServer::Reply reply) {
    if (!is_owner(request)) {
      spdlog::warn("audit: uid {} (pid {}) was refused 'inspect' on VM {}", request.peer.uid, request.peer.pid,
                   session.config().name);
      reply(ControlServer::error(request.id, "access_denied", "only the VM's owner or root may inspect it"));
      return;
    }
    std::string only;
    if (request.params.contains("device")) {
      if (!request.params["device"].is_string()) {
        reply(ControlServer::error(request.id, "invalid_params", "\"device\" must be a device name string"));
        return;
      }
      only = request.params["device"].get<std::string>();
    }
    auto machine = session.machine();
    if (!machine || machine->finished()) {
      reply(ControlServer::error(request.id, "not_running", "the VM is not running"));
      return;
    }
    nlohmann::json result = {{"vm", session.config().name}, {"accelerator", std::string(machine->accelerator())}};
    const bool want_all = only.empty();
    nlohmann::json devices = devices_json(*machine, only);
    if (want_all || !devices.empty()) result["devices"] = devices;
    if (want_all || only == "irqchip") {
      JsonStateWriter irqchip;
      machine->backend().describe(irqchip);
      result["irqchip"] = irqchip.take();
    }
    const bool want_vcpus = want_all || only == "vcpus" || only.rfind("cpu", 0) == 0;
    if (want_vcpus) {
      // Registers belong to the vCPU threads: park them, read, and let them go again unless
      // someone else had paused the VM.
      const bool was_paused = machine->paused();
      if (!was_paused && !machine->pause()) {
        reply(ControlServer::error(request.id, "not_running", "the VM stopped while being inspected"));
        return;
      }
      nlohmann::json vcpus = nlohmann::json::array();
      for (const auto& runner : machine->vcpus()) {
        const uint32_t index = runner->backend().index();
        if (only.rfind("cpu", 0) == 0 && only != fmt::format("cpu{}", index)) continue;
        auto registers = runner->backend().read_registers();
        vcpus.push_back(registers ? registers_json(index, *registers)
                                  : nlohmann::json{{"vcpu", index}, {"error", registers.error().message}});
      }
      if (!was_paused) machine->resume();
      result["paused_to_read_registers"] = !was_paused;
      if (want_all || !vcpus.empty()) result["vcpus"] = vcpus;
    }
    if (!want_all && result.size() == 2) {
      std::set<std::string> names = {"irqchip", "vcpus"};
      const nlohmann::json all_devices = devices_json(*machine, "");  // named: items() must not outlive it
      for (const auto& [name, entry] : all_devices.items()) names.insert(name);
      for (const auto& runner : machine->vcpus()) names.insert(fmt::format("cpu{}", runner->backend().index()));
      std::string list;
      for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
      reply(ControlServer::error(request.id, "no_such_device", fmt::format("no device '{}'; there are: {}", only, list)));
      return;
    }
    reply(ControlServer::ok(request.id, result));
  });
}

struct Registration {
  Registration() { VmSession::register_extension(install); }
};
const Registration registration;

}  // namespace

}  // namespace kvpc
