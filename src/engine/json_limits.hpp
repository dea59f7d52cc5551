// SPDX-License-Identifier: Apache-2.0
// src/engine/json_limits.hpp — JSON from files and users' strings is read with bounded nesting:
// nlohmann's parser is iterative, but everything that walks the result (dump, the config
// readers, the dialect detection) recurses, and 100,000 levels overflow the stack.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace lamina::engine {

/// The deepest nesting of arrays and objects accepted: Python's json module stops near 1000
/// (its recursion limit); Keras configs nest a few dozen levels, a few more per nested model.
inline constexpr int kMaxJsonDepth = 512;
/// The deepest nesting of models and wrapped layers (Bidirectional, TimeDistributed, RNN cells)
/// that from_config rebuilds, each level a few stack frames of its own.
inline constexpr int kMaxConfigNesting = 64;

/// Parses untrusted JSON text. On failure returns a discarded value and sets `error` to the
/// reason ("nests deeper than 512 levels (at byte N)", "not valid JSON (...)", a number of
/// magnitude 2^63 or more: no integer holds it, and the config readers cast to integers).
nlohmann::json parse_bounded_json(const std::string& text, std::string& error);

/// Throws ValueError "<who>: the JSON nests deeper than 512 levels" when `value` does (checked
/// without recursion, for values a program built rather than parsed).
void require_bounded_depth(const nlohmann::json& value, const std::string& who);

/// Counts one level of model or wrapper nesting for as long as it lives on this thread;
/// ValueError "<who>: models and wrapped layers nest deeper than 64 levels" past the limit.
class ConfigNesting {
 public:
  explicit ConfigNesting(const std::string& who);
  ~ConfigNesting();
  ConfigNesting(const ConfigNesting&) = delete;
  ConfigNesting& operator=(const ConfigNesting&) = delete;
};

}  // namespace lamina::engine
