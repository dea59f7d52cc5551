// src/engine/config.hpp — Keras-style JSON for the values inside layer configs.
#pragma once

#include <nlohmann/json.hpp>

#include "lamina/initializers.hpp"

namespace lamina::engine {

/// {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {...},
///  "registered_name": null} as Keras 3 writes it.
nlohmann::json initializer_config(const Initializer& init);

}  // namespace lamina::engine
