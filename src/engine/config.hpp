// SPDX-License-Identifier: Apache-2.0
// src/engine/config.hpp — Keras-style JSON for the values inside layer configs, and the entry
// point that rebuilds models from Keras configs of either dialect.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lamina/activations.hpp"
#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/regularizers.hpp"

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
/// The initializer under `key` (`fallback` when absent or null): Keras writes {"class_name":
/// "GlorotUniform", "config": {...}}, older files a string; arguments (mean, stddev, minval,
/// maxval, scale, mode, distribution, value, gain) and an integer seed are kept. One lamina does
/// not know is refused (ValueError naming the key and the value): a model trained from it, or
/// its weights that a file does not hold, would otherwise differ without a word.
Initializer initializer_of(const nlohmann::json& config, const char* key, const char* fallback);
/// The regularizer / constraint under `key` (absent or null: none). Throws ValueError naming the
/// key and the value for one lamina does not have.
Regularizer regularizer_of(const nlohmann::json& config, const char* key);
Constraint constraint_of(const nlohmann::json& config, const char* key);
/// The Keras name an activation value of a config stands for: a name ("relu"), null (linear), a
/// function reference ({"class_name": "function", "config": "relu"}) or an activation layer
/// object ({"class_name": "ReLU", "config": {...}}) whose arguments match a named activation;
/// nullopt for anything else.
std::optional<std::string> activation_name(const nlohmann::json& value);
/// The activation under `key` (read by activation_name; `fallback` when absent or null). Throws
/// ValueError naming the key and the value when it is not an activation lamina has.
Activation activation_of(const nlohmann::json& config, const char* key, const char* fallback);

/// A config key implemented only at Keras's default: the values meaning that default, and why
/// others are refused.
struct KeyRule {
  std::string key;
  std::vector<nlohmann::json> accepted;
  std::string why;
};
/// The config-key audit of a built-in layer class, as its LayerSpec declares it
/// (engine/layer_spec.hpp): the keys its from_config honours (nullptr for a class without an
/// audit, a user's), and the keys accepted only at their default.
const std::set<std::string>* config_keys_honoured(const std::string& class_name);
std::vector<KeyRule> config_key_rules(const std::string& class_name);
/// Refuses (ValueError "key=value ...") a key of an audited class's config that is neither a
/// base Layer key, honoured, at its accepted default, nor an unknown key set to null or false.
void check_config_keys(const std::string& class_name, const nlohmann::json& config);

/// Model::from_config for a config written by Keras `keras_major` (2 or 3; 0: read it from a
/// top-level "keras_version", else recognise Keras 2 by batch_input_shape, list-style
/// inbound_nodes, class "Model" or a bare-list Sequential). Layer configs reach the factories
/// with dtype and activations as plain names, and Keras 2's "hard_sigmoid" as
/// "hard_sigmoid_keras2".
Model model_from_config(const nlohmann::json& config, int keras_major);

}  // namespace lamina::engine
