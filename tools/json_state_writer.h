// JsonStateWriter: a StateWriter (vmm/state_writer.h) that builds the JSON `kvpc inspect`
// returns. Byte strings become lowercase hex; nesting follows begin()/end().
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmm/state_writer.h"

namespace kvpc {

class JsonStateWriter final : public StateWriter {
 public:
  JsonStateWriter() : root_(nlohmann::json::object()) { stack_.push_back(&root_); }

  void begin(std::string_view name) override {
    nlohmann::json& child = (*stack_.back())[std::string(name)];
    if (!child.is_object()) child = nlohmann::json::object();
    stack_.push_back(&child);
  }
  void end() override {
    if (stack_.size() > 1) stack_.pop_back();
  }
  void number(std::string_view name, uint64_t value) override { (*stack_.back())[std::string(name)] = value; }
  void flag(std::string_view name, bool value) override { (*stack_.back())[std::string(name)] = value; }
  void text(std::string_view name, std::string_view value) override {
    (*stack_.back())[std::string(name)] = std::string(value);
  }
  void bytes(std::string_view name, std::span<const uint8_t> value) override {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(value.size() * 2);
    for (uint8_t byte : value) {
      hex += kHex[byte >> 4];
      hex += kHex[byte & 0xF];
    }
    (*stack_.back())[std::string(name)] = hex;
  }

  nlohmann::json take() { return std::move(root_); }

 private:
  nlohmann::json root_;
  std::vector<nlohmann::json*> stack_;  // pointers into root_; objects do not move while nested
};

}  // namespace kvpc
