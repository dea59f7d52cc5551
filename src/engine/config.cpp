#include "engine/config.hpp"

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

}  // namespace lamina::engine
