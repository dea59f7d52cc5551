// SPDX-License-Identifier: Apache-2.0
// src/io/legacy_h5.hpp — Keras's legacy HDF5 formats: whole models (`model.save("m.h5")`:
// model_config, training_config, model_weights, optimizer_weights) and weights-only files
// (`save_weights("w.h5")`: the model_weights layout at the file root).
#pragma once

#include <string>

#include "io/hdf5.hpp"
#include "lamina/model.hpp"

namespace lamina::io {

/// The Keras version written into the files' `keras_version` attributes: the Keras whose
/// layouts and config dialect lamina writes.
inline constexpr const char* kKerasVersion = "3.11.3";

/// Writes layer_names, backend, keras_version and one group per layer (weight_names and
/// datasets `<layer>/<weight>:0`) into `group`: a file's root or its model_weights group.
void write_legacy_weights(h5::Group& group, const Model& model);
/// Reads weights saved by write_legacy_weights or Keras (any version) from `group`. By topology
/// (zip of layers with weights, counts must agree) or `by_name` (layers matched by name, the
/// others ignored); `skip_mismatch` skips (with a warning on stderr) layers whose weight count
/// or shapes differ instead of failing. Nothing is assigned unless everything checks out.
void read_legacy_weights(const h5::Group& group, Model& model, bool by_name, bool skip_mismatch);

/// True when the file has the legacy layout (layer_names at the root, or a model_weights group)
/// rather than Keras 3's (/layers, /vars): some legacy weights files are named `.weights.h5`.
bool has_legacy_layout(const std::string& path);
/// Whole-model legacy .h5 to `path` (not atomic: callers pass a temporary path, and the target's
/// name as `display_name` for errors).
void save_legacy_model(const Model& model, const std::string& path, const std::string& display_name = {});
/// Rebuilds the model from model_config, loads model_weights, and with `compile` restores the
/// training configuration and optimizer state where lamina knows them.
Model load_legacy_model(const std::string& path, bool compile);
/// Weights-only legacy .h5 (layer groups at the root) to `path` (not atomic, as save_legacy_model).
void save_legacy_weights(const Model& model, const std::string& path, const std::string& display_name = {});
/// Weights from a weights-only legacy .h5 or from a whole-model file's model_weights group.
void load_legacy_weights(Model& model, const std::string& path, bool by_name, bool skip_mismatch);

}  // namespace lamina::io
