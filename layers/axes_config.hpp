// SPDX-License-Identifier: Apache-2.0
// Keras's `axis` arguments that take one axis or a list (Softmax, UnitNormalization,
// LayerNormalization, RMSNormalization, PReLU's shared_axes): resolving them against an input's
// rank and reading / writing them in configs.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "lamina/layer.hpp"
#include "lamina/layers/axes.hpp"

namespace lamina::layers::axes_config {

/// The axes as non-negative indices for an input of `rank`, in the given order. Throws
/// ShapeError naming `layer` for an axis out of range, a repeated one, or the batch axis unless
/// `batch_ok`.
std::vector<int> resolve(const Layer& layer, const Axes& axes, int rank, bool batch_ok = false);
/// An integer for one axis, else the list (as Keras writes it).
nlohmann::json to_json(const Axes& axes);
/// config[key] as an integer or a non-empty list of integers (`fallback` when absent or null).
/// Throws ValueError naming the key and the value otherwise.
Axes from_json(const nlohmann::json& config, const char* key, int fallback);

}  // namespace lamina::layers::axes_config
