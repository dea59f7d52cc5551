// SPDX-License-Identifier: Apache-2.0
// The beta/gamma keys every normalisation layer with beta and gamma writes and reads:
// BatchNormalization, LayerNormalization, GroupNormalization.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/config.hpp"
#include "lamina/constraints.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

/// Writes epsilon, center, scale and the beta/gamma initializers, regularizers and constraints
/// (null when unset).
template <class Options>
void beta_gamma_to_config(const Options& o, nlohmann::json& c) {
  c["epsilon"] = o.epsilon;
  c["center"] = o.center;
  c["scale"] = o.scale;
  c["beta_initializer"] = engine::initializer_config(o.beta_initializer);
  c["gamma_initializer"] = engine::initializer_config(o.gamma_initializer);
  c["beta_regularizer"] = regularizers::serialize(o.beta_regularizer);
  c["gamma_regularizer"] = regularizers::serialize(o.gamma_regularizer);
  c["beta_constraint"] = constraints::serialize(o.beta_constraint);
  c["gamma_constraint"] = constraints::serialize(o.gamma_constraint);
}

/// Reads epsilon, center, scale and the beta/gamma initializers, regularizers and constraints (Keras's
/// defaults where absent), and the name. Throws ValueError naming a key whose value lamina lacks.
template <class Options>
void beta_gamma_from_config(const nlohmann::json& c, Options& o) {
  o.epsilon = c.value("epsilon", 1e-3);
  o.center = c.value("center", true);
  o.scale = c.value("scale", true);
  o.beta_initializer = engine::initializer_of(c, "beta_initializer", "zeros");
  o.gamma_initializer = engine::initializer_of(c, "gamma_initializer", "ones");
  o.beta_regularizer = engine::regularizer_of(c, "beta_regularizer");
  o.gamma_regularizer = engine::regularizer_of(c, "gamma_regularizer");
  o.beta_constraint = engine::constraint_of(c, "beta_constraint");
  o.gamma_constraint = engine::constraint_of(c, "gamma_constraint");
  o.name = engine::name_of(c);
}

}  // namespace lamina::layers
