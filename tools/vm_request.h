// The shared shape of verbs that send one request to a named VM and print the answer.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace kvpc {

// Connects to VM `name`, calls `method`, prints the result (JSON when `json`), returns the
// exit status. `describe` turns a successful result into the human line.
int call_vm(const std::string& name, const std::string& method, const nlohmann::json& params, bool json,
            std::chrono::milliseconds timeout, std::string (*describe)(const nlohmann::json& result));

}  // namespace kvpc
