#include "engine/config.hpp"

#include "lamina/errors.hpp"

namespace lamina::engine {

nlohmann::json initializer_config(const Initializer& init) {
  nlohmann::json config = nlohmann::json::object();
  for (const auto& [k, v] : init.config()) config[k] = v;
  if (init.class_name().find("Uniform") != std::string::npos ||
      init.class_name().find("Normal") != std::string::npos || init.class_name() == "Orthogonal" ||
      init.class_name() == "VarianceScaling")
    config["seed"] = nullptr;
  return {{"module", "keras.initializers"},
          {"class_name", init.class_name()},
          {"config", config},
          {"registered_name", nullptr}};
}

std::string name_of(const nlohmann::json& config) { return config.value("name", std::string()); }

Initializer initializer_of(const nlohmann::json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const auto& v = config[key];
  const std::string name = v.is_string() ? v.get<std::string>() : v.at("class_name").get<std::string>();
  try {
    return Initializer(name);
  } catch (const ValueError&) {
    return fallback;
  }
}

}  // namespace lamina::engine
