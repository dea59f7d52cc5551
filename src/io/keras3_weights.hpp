// SPDX-License-Identifier: Apache-2.0
// src/io/keras3_weights.hpp — Keras 3's weights layout (model.weights.h5 inside .keras files,
// and `.weights.h5` files): /layers/<key>/vars/0.., keyed by snake_case class names.
#pragma once

#include <string>

#include "lamina/model.hpp"

namespace lamina::io {

/// Writes the model's weights in Keras 3's model.weights.h5 layout to a plain HDF5 file
/// (not atomically: callers write to a temporary path; `display_name`, when given, names the file
/// in errors instead). Includes the optimizer's state (/optimizer/vars) when the model is
/// compiled.
void write_keras3_weights(const Model& model, const std::string& h5_path,
                          const std::string& display_name = {});
/// Reads Keras 3 weights into a built model; validates every shape before assigning anything.
/// `display_name` names the file in errors (e.g. "model.keras:model.weights.h5"). Restores the
/// optimizer's state too when the model is compiled and the file has it. Throws FileFormatError
/// naming the file, the group and the layer on any mismatch; with `skip_mismatch`, layers whose
/// weight count or shapes differ are skipped with a warning on stderr instead.
void read_keras3_weights(Model& model, const std::string& h5_path, const std::string& display_name,
                         bool skip_mismatch = false);

}  // namespace lamina::io
