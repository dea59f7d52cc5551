// SPDX-License-Identifier: Apache-2.0
// src/io/training_config.hpp — a model's compile arguments as Keras's `training_config` JSON
// (legacy .h5 root attribute), written and applied back.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lamina/model.hpp"

namespace lamina::io {

/// {"loss", "metrics", "weighted_metrics", "loss_weights", "optimizer_config"} of a compiled
/// model, in Keras's shape (one entry, or one per output keyed by output name).
nlohmann::json training_config(const Model& model);
/// Compiles `model` from a training_config written by Keras (2 or 3) or lamina. Returns false,
/// leaving the model uncompiled with a warning on stderr naming `file`, when the optimizer or
/// loss is one lamina does not have; metrics it does not have are dropped with a warning.
bool apply_training_config(Model& model, const nlohmann::json& config, const std::string& file);

}  // namespace lamina::io
