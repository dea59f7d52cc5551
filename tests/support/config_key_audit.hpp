// SPDX-License-Identifier: Apache-2.0
// tests/support/config_key_audit.hpp — checks lamina's config-key audit (src/engine/config_keys.cpp)
// against the keys real Keras's get_config() writes, as the fixture scripts list them:
// {"keras 3.x": {"Class": ["key", ...]}, "tf_keras 2.x": {...}}.
#pragma once

#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/config.hpp"

namespace lamina::testing {

struct AuditCounts {
  int audited = 0, honoured = 0, ruled = 0;
};

/// Checks that every listed class has an audit row and that each key it writes (beyond the base
/// Layer's) is honoured or accepted only at its default; returns the counts.
inline AuditCounts audit_config_keys(const nlohmann::json& written) {
  const std::set<std::string> base = {"name", "trainable", "dtype", "batch_input_shape"};
  AuditCounts n;
  for (const auto& [version, classes] : written.items())
    for (const auto& [cls, keys] : classes.items()) {
      const std::set<std::string>* table = engine::config_keys_honoured(cls);
      INFO(version << " " << cls);
      REQUIRE(table != nullptr);
      const auto rules = engine::config_key_rules(cls);
      for (const nlohmann::json& k : keys) {
        const std::string key = k.get<std::string>();
        if (base.count(key)) continue;
        ++n.audited;
        bool is_ruled = false;
        for (const auto& r : rules) is_ruled |= r.key == key;
        INFO(key);
        CHECK((table->count(key) || is_ruled));
        (table->count(key) ? n.honoured : n.ruled) += 1;
      }
    }
  return n;
}

}  // namespace lamina::testing
