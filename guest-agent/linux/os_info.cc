#include "guest-agent/linux/os_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace kvpc::agent {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The leading numbers of "6.1.0-13-amd64" or "22.04": {6, 1, 0}, {22, 4}.
std::vector<unsigned long> leading_numbers(const std::string& text) {
  std::vector<unsigned long> numbers;
  size_t i = 0;
  while (i < text.size() && numbers.size() < 3 && text[i] >= '0' && text[i] <= '9') {
    unsigned long n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 100000) n = n * 10 + (text[i++] - '0');
    numbers.push_back(n);
    if (i < text.size() && text[i] == '.') ++i; else break;
  }
  return numbers;
}

}  // namespace

std::string os_release_value(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, key.size() + 1, key + "=") != 0) continue;
    std::string value = line.substr(key.size() + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::string unescaped;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      unescaped += value[i];
    }
    return unescaped;
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> linux_os_info(const OsInfoSources& sources) {
  std::string release_text = read_file(sources.os_release);
  if (release_text.empty() && sources.os_release == "/etc/os-release") release_text = read_file("/usr/lib/os-release");
  struct utsname uts {};
  uname(&uts);
  std::string kernel = sources.kernel_release.empty() ? uts.release : sources.kernel_release;
  std::string host = sources.hostname;
  if (host.empty()) {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) == 0) host = name;
  }
  if (host.empty()) host = "localhost";

  std::string name = os_release_value(release_text, "PRETTY_NAME");
  if (name.empty()) name = os_release_value(release_text, "NAME");
  if (name.empty()) name = "Linux";
  // OS version: the distribution's VERSION_ID; a distribution without one reports the kernel's.
  std::string version_id = os_release_value(release_text, "VERSION_ID");
  auto os_numbers = leading_numbers(version_id.empty() ? kernel : version_id);
  auto kernel_numbers = leading_numbers(kernel);
  while (os_numbers.size() < 2) os_numbers.push_back(0);
  while (kernel_numbers.size() < 3) kernel_numbers.push_back(0);
  // Build number: the kernel as one decimal (6.1.55 -> 60155), so it parses as an integer.
  unsigned long build = kernel_numbers[0] * 10000 + kernel_numbers[1] % 100 * 100 + kernel_numbers[2] % 100;
  std::string version = (version_id.empty() ? std::string("Linux") : version_id) + " (Linux " + kernel + ")";

  return {{"ComputerName", host},
          {"OSName", name},
          {"OSMajorVersion", std::to_string(os_numbers[0])},
          {"OSMinorVersion", std::to_string(os_numbers[1])},
          {"OSBuildNumber", std::to_string(build)},
          {"OSVersion", version},
          {"OSPlatformId", "0"},
          {"CSDVersion", ""},
          {"ServicePackMajor", "0"},
          {"ServicePackMinor", "0"},
          {"IntegrationComponentsVersion", KVPC_AGENT_VERSION},
          {"MultipleUserSessionsAllowed", "1"},
          {"TerminalServicesInitialized", "0"},
          {"ScreenLocked", "0"}};
}

}  // namespace kvpc::agent
