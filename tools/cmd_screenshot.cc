// `kvpc screenshot NAME FILE.png`: write what VM NAME's screen shows (text or graphics) as a PNG.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "display/png_writer.h"
#include "tools/commands.h"
#include "tools/control_client.h"
#include "tools/exit_status.h"

namespace kvpc {
namespace {

Result<std::vector<uint8_t>> from_base64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return make_error("the VM's answer holds malformed base64");
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if ((v[k] = value(c)) < 0 || pad > 0) {
        return make_error("the VM's answer holds malformed base64");
      }
    }
    const uint32_t n = static_cast<uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    out.push_back(static_cast<uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(n));
  }
  return out;
}

int take_screenshot(const std::string& name, const std::string& file, bool json) {
  ControlClient::ConnectError why;
  auto client = ControlClient::connect_to_vm(name, &why);
  if (!client) {
    spdlog::error("{}", why == ControlClient::ConnectError::kAccessDenied
                            ? fmt::format("you may not control VM '{}' (its control socket refused you)", name)
                            : fmt::format("there is no running VM named '{}' ({})", name, client.error().message));
    return kExitError;
  }
  auto response = client->call("screenshot", nlohmann::json::object(), std::chrono::seconds(30));
  if (!response) {
    spdlog::error("{}: {}", name, response.error().message);
    return kExitError;
  }
  if (!response->value("ok", false)) {
    spdlog::error("{}: {}", name, (*response)["error"].value("message", "screenshot failed"));
    return kExitCallFailed;
  }
  const nlohmann::json& result = (*response)["result"];
  auto png = from_base64(result.value("png_base64", std::string()));
  if (!png) {
    spdlog::error("{}: {}", name, png.error().message);
    return kExitError;
  }
  if (auto status = write_file_atomically(file, *png); !status) {
    spdlog::error("{}", status.error().message);
    return kExitError;
  }
  if (json) {
    fmt::print("{}\n", nlohmann::json{{"vm", name}, {"method", "screenshot"}, {"ok", true}, {"file", file},
                                      {"width", result.value("width", 0)}, {"height", result.value("height", 0)},
                                      {"mode", result.value("mode", "")}}
                           .dump());
  } else {
    fmt::print("{}: {} ({}x{}, {}) written to {}\n", name, "screenshot", result.value("width", 0),
               result.value("height", 0), result.value("mode", ""), file);
  }
  return kExitOk;
}

}  // namespace

void add_screenshot_command(CLI::App& app, CommandAction& action) {
  struct Flags {
    std::string name, file;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("screenshot", "Write what a VM's screen shows (text or graphics) to a PNG file");
  cmd->add_option("name", flags->name, "The VM's name")->required();
  cmd->add_option("file", flags->file, "The PNG file to write (replaced atomically)")->required();
  cmd->add_flag("--json", flags->json, "Print the answer as one JSON object");
  cmd->callback([flags, &action] { action = [flags] { return take_screenshot(flags->name, flags->file, flags->json); }; });
}

}  // namespace kvpc
