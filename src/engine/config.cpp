// SPDX-License-Identifier: Apache-2.0
#include "engine/config.hpp"

#include "lamina/errors.hpp"

namespace lamina::engine {

using json = nlohmann::json;

json initializer_config(const Initializer& init) { return initializers::serialize(init); }

std::string name_of(const json& config) { return config.value("name", std::string()); }

Initializer initializer_of(const json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  try {
    return initializers::deserialize(config[key]);
  } catch (const ValueError&) {
    return fallback;
  } catch (const json::exception&) {
    return fallback;
  }
}

Activation activation_of(const json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const json& a = config[key];
  if (a.is_string()) return a.get<std::string>();
  // Keras 3 may serialize a function as {"class_name": "function", "config": "relu", ...}.
  if (a.is_object() && a.contains("config") && a["config"].is_string()) return a["config"].get<std::string>();
  throw ValueError(std::string("\"") + key + "\" must name an activation, got " + a.dump());
}

}  // namespace lamina::engine
