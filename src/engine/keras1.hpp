// SPDX-License-Identifier: Apache-2.0
// src/engine/keras1.hpp — recognising Keras 1 models, which lamina refuses with a way out.
#pragma once

#include <string>

namespace lamina::engine {

/// The refusal of a Keras 1 model (`evidence`: "keras_version 1.2.2", "Dense 'dense_1' uses
/// Keras 1's key 'output_dim' (Keras 2: 'units')"), saying how to convert it with Keras 2.
std::string keras1_refusal(const std::string& evidence);
/// Whether a keras_version attribute or key names Keras 1 ("1.2.2").
inline bool is_keras1_version(const std::string& version) { return version.rfind("1.", 0) == 0; }

}  // namespace lamina::engine
