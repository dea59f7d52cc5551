// src/engine/config.hpp — Keras-style JSON for the values inside layer configs.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lamina/initializers.hpp"

namespace lamina::engine {

/// {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {...},
///  "registered_name": null} as Keras 3 writes it.
nlohmann::json initializer_config(const Initializer& init);

// Reading layer configs (from_config factories of every layer family).

/// The "name" of a layer config, empty when absent (a fresh unique name is given then).
std::string name_of(const nlohmann::json& config);
/// The initializer under `key`: Keras writes {"class_name": "GlorotUniform", ...}, older files a
/// string. An initializer lamina does not know only matters before weights are loaded, so
/// `fallback` (the layer's default) stands in for it rather than refusing the whole model.
Initializer initializer_of(const nlohmann::json& config, const char* key, const char* fallback);

}  // namespace lamina::engine
