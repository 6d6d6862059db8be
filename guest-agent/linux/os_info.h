// os-info for a Linux guest: uname, /etc/os-release and the hostname mapped onto the keys of
// docs/integration-protocol.md section 8 (docs/linux-agent.md has the table).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kvpc::agent {

struct OsInfoSources {
  std::string os_release = "/etc/os-release";  // falls back to /usr/lib/os-release
  std::string hostname;                        // empty: gethostname()
  std::string kernel_release;                  // empty: uname().release
};

std::vector<std::pair<std::string, std::string>> linux_os_info(const OsInfoSources& sources);

// One value of an os-release file (shell-style quoting removed), or "" when absent.
std::string os_release_value(const std::string& text, const std::string& key);

}  // namespace kvpc::agent
