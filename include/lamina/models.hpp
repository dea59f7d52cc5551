// SPDX-License-Identifier: Apache-2.0
// lamina/models.hpp — whole models from their descriptions (Keras's keras.models namespace).
#pragma once

#include <string>

#include "lamina/model.hpp"

namespace lamina::models {

/// Rebuilds a model from the JSON of Model::to_json() or of Keras's `model.to_json()`: the Keras 3
/// dialect (module/class_name/config/registered_name, `inbound_nodes` as args/kwargs with
/// `__keras_tensor__`) and the Keras 2 / tf.keras one (`class_name` "Model", `batch_input_shape`,
/// list-style `inbound_nodes`, Sequential configs as a bare list), Sequential and Functional,
/// nested models included. The layers are fresh: weights are initialised, not loaded.
/// Throws ValueError naming the class of an unknown or refused layer (Lambda, unregistered custom
/// classes, as Keras's safe_mode does; see register_layer) or what is malformed.
Model model_from_json(const std::string& json);

/// keras.models.clone_model: a new model of the same architecture (Sequential, Functional, nested
/// models and shared layers alike, layer and model names kept) with freshly initialised weights,
/// uncompiled. Throws ValueError as model_from_json does for a layer that cannot be rebuilt.
Model clone_model(const Model& model);

struct LoadModelOptions {
  /// Compile the model from the file's training configuration (optimizer, loss, metrics) and
  /// restore the optimizer's state, where lamina has them; otherwise it loads uncompiled.
  bool compile = true;
};

/// Loads a whole model saved by Model::save or by Keras: `.keras` or legacy `.h5` / `.hdf5`.
/// Validates the file before building anything: a truncated or corrupt file, a missing group, a
/// weight of the wrong shape or a layer class lamina lacks gives a FileFormatError naming the
/// file (and the layer or class).
Model load_model(const std::string& path, const LoadModelOptions& options = {});

}  // namespace lamina::models
