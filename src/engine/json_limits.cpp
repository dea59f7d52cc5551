// SPDX-License-Identifier: Apache-2.0
// src/engine/json_limits.cpp — bounded JSON nesting.
#include "engine/json_limits.hpp"

#include <utility>
#include <vector>

#include "lamina/errors.hpp"

namespace lamina::engine {
namespace {

thread_local int t_nesting = 0;

std::string too_deep() {
  return "the JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
}

// Byte offset of the first bracket past kMaxJsonDepth outside strings, or npos. A scan of the
// bytes rather than a parser callback: it stops at that bracket, before the parser builds
// anything.
std::size_t first_too_deep(const std::string& text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string::npos;
}

}  // namespace

nlohmann::json parse_bounded_json(const std::string& text, std::string& error) {
  if (const std::size_t at = first_too_deep(text); at != std::string::npos) {
    error = too_deep() + " (at byte " + std::to_string(at) + ")";
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  // Numbers are kept as written: a float where a config expects an integer (1e+300 for Dense's
  // units) is refused where it is read, naming the layer and the key (src/common/json_int.hpp).
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    error = std::string("not valid JSON (") + e.what() + ")";
  }
  return nlohmann::json(nlohmann::json::value_t::discarded);
}

void require_bounded_depth(const nlohmann::json& value, const std::string& who) {
  std::vector<std::pair<const nlohmann::json*, int>> todo{{&value, 1}};
  while (!todo.empty()) {
    const auto [j, depth] = todo.back();
    todo.pop_back();
    if (!j->is_structured()) continue;
    if (depth > kMaxJsonDepth) throw ValueError(who + ": " + too_deep());
    for (const auto& child : *j) todo.emplace_back(&child, depth + 1);
  }
}

ConfigNesting::ConfigNesting(const std::string& who) {
  if (t_nesting >= kMaxConfigNesting)
    throw ValueError(who + ": models and wrapped layers nest deeper than " +
                     std::to_string(kMaxConfigNesting) + " levels");
  ++t_nesting;
}

ConfigNesting::~ConfigNesting() { --t_nesting; }

}  // namespace lamina::engine
