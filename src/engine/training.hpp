// SPDX-License-Identifier: Apache-2.0
// src/engine/training.hpp — the Keras 3 variable paths of a model's weights (which name the
// optimizer's slots).
#pragma once

#include <string>
#include <vector>

#include "engine/model_impl.hpp"

namespace lamina::engine {

/// Keras 3's variable path of each of `weights` (which name the optimizer's slots): "<layer>/<weight>"
/// under the scopes the layer was built in. A Sequential builds its layers inside its own scope
/// ("sequential/dense/kernel"); a Functional model's layers are built outside any, when called on
/// its inputs ("dense/kernel"); other layers scope their sublayers ("bidirectional/forward_lstm/
/// kernel"), and so does a subclassed model ("my_model/dense/kernel"). "variable_<i>" for a tensor
/// that belongs to no layer of `m`.
std::vector<std::string> variable_paths(const ModelImpl& m, const std::vector<Tensor>& weights);

}  // namespace lamina::engine
