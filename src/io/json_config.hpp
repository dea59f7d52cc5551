// SPDX-License-Identifier: Apache-2.0
// src/io/json_config.hpp — models as Keras JSON: the Keras 3 serialization that to_json and
// .keras archives write, and the reading of Keras 2 / Keras 3 model configs from files.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lamina/model.hpp"

namespace lamina::io {

/// Keras 3's serialize_keras_object(model): {"module", "class_name" ("Sequential" |
/// "Functional"), "config", "registered_name", "build_config"}, layers with module, class_name,
/// config (dtype as a DTypePolicy object), registered_name and build_config where Keras writes
/// one. Custom classes (not Keras's) get "module": null and their class name as registered_name.
nlohmann::json serialize_model(const Model& model);

/// Sets the "kwargs" of every Keras 3 inbound node in `model_config` (nested models included) to
/// what Keras 3 records for a plain call `layer(x)`: "training": false for layers whose call()
/// defaults training to False (Dropout, the noise layers, the recurrent layers), "mask": null for
/// layers whose call() takes a mask (BatchNormalization, recurrent layers and their wrappers,
/// nested models). Keras 2's list-style nodes are left as they are.
void set_plain_call_kwargs(nlohmann::json& model_config);

/// Keras 3's compile_config of a compiled model: {"optimizer" (serialized), "loss",
/// "loss_weights", "metrics", "weighted_metrics", "run_eagerly", "steps_per_execution",
/// "jit_compile"}.
nlohmann::json compile_config(const Model& model);
/// Compiles `model` from a Keras 3 compile_config (an empty one leaves it uncompiled). Returns
/// false, leaving it uncompiled with a warning naming `file`, when lamina lacks the optimizer or
/// the loss. A config without "optimizer" (Keras drops it after a legacy .h5 save in the same
/// process) compiles with Keras's default optimizer, rmsprop.
bool apply_compile_config(Model& model, const nlohmann::json& config, const std::string& file);

/// Rebuilds a model from a Keras model config of either dialect (Model::from_config), for a
/// config read from a file: every error (unknown class, malformed config) becomes a
/// FileFormatError "<source>: <message>". `keras_version` ("2.2.4", "3.11.3"; empty when not
/// known) selects the dialect's meanings where they differ (Keras 2's hard_sigmoid).
Model model_from_file_config(const nlohmann::json& config, const std::string& source,
                             const std::string& keras_version = {});

}  // namespace lamina::io
