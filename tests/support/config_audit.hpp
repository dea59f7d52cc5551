// SPDX-License-Identifier: Apache-2.0
// tests/support/config_audit.hpp — the config-key audit over a list of the keys real Keras's
// get_config() writes ({"keras 3.x": {"Conv2D": ["filters", ...]}, "tf_keras 2.x": {...}}, made by
// the fixture scripts): every key must be honoured by lamina's table or ruled on
// (src/engine/config_keys.cpp).
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "engine/config.hpp"

namespace lamina::testing {

struct AuditCounts {
  int audited = 0, honoured = 0, ruled = 0;
};

/// CHECKs each key of `written` (the base Layer's keys aside) and counts them.
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
