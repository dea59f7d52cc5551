// SPDX-License-Identifier: Apache-2.0
// src/engine/json_limits.cpp — bounded JSON nesting.
#include "engine/json_limits.hpp"

#include <cmath>
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
  // A float where a config expects an integer is converted by a cast, which is undefined past
  // the integer's range (UBSan: 1e+300 for Dense's units): a number no integer type holds (nor
  // any Keras config) is refused here, once for every reader.
  std::string out_of_range;
  const auto check = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::value && parsed.is_number_float() && out_of_range.empty() &&
        !(std::abs(parsed.get<double>()) < 0x1p63))
      out_of_range = parsed.dump();
    return true;
  };
  try {
    nlohmann::json parsed = nlohmann::json::parse(text, check);
    if (out_of_range.empty()) return parsed;
    error = "holds the number " + out_of_range + ", larger than any size or setting can be (2^63)";
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
