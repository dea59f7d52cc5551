// SPDX-License-Identifier: Apache-2.0
// src/engine/config.hpp — Keras-style JSON for the values inside layer configs, and the entry
// point that rebuilds models from Keras configs of either dialect.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lamina/activations.hpp"
#include "lamina/initializers.hpp"

namespace lamina {
class Model;
}

namespace lamina::engine {

/// {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {...},
///  "registered_name": null} as Keras 3 writes it (random initializers carry their "seed").
nlohmann::json initializer_config(const Initializer& init);

// Reading layer configs (from_config factories of every layer family).

/// The "name" of a layer config, empty when absent (a fresh unique name is given then).
std::string name_of(const nlohmann::json& config);
/// The initializer under `key`: Keras writes {"class_name": "GlorotUniform", "config": {...}},
/// older files a string; arguments (mean, stddev, minval, maxval, scale, mode, distribution,
/// value, gain) and an integer seed are kept. An initializer lamina does not know only matters
/// before weights are loaded, so `fallback` (the layer's default) stands in for it rather than
/// refusing the whole model.
Initializer initializer_of(const nlohmann::json& config, const char* key, const char* fallback);
/// The activation under `key` ("relu"; `fallback` when absent or null). Throws ValueError naming
/// an unknown activation.
Activation activation_of(const nlohmann::json& config, const char* key, const char* fallback);

/// Model::from_config for a config written by Keras `keras_major` (2 or 3; 0: read it from a
/// top-level "keras_version", else recognise Keras 2 by batch_input_shape, list-style
/// inbound_nodes, class "Model" or a bare-list Sequential). Layer configs reach the factories
/// with dtype and activations as plain names, and Keras 2's "hard_sigmoid" as
/// "hard_sigmoid_keras2".
Model model_from_config(const nlohmann::json& config, int keras_major);

}  // namespace lamina::engine
