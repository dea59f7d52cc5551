// SPDX-License-Identifier: Apache-2.0
// lamina/constraints.hpp — Keras's weight constraints (MaxNorm, MinMaxNorm, NonNeg, UnitNorm),
// applied to a weight after each optimizer update.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "lamina/tensor.hpp"

namespace lamina {

/// A constraint as a value: empty (none, the default), made from a Keras name ("max_norm",
/// "non_neg", "UnitNorm"...) or by the factories below. Calling it on a weight returns the
/// projected weight (same shape); training assigns that back after each step.
class Constraint {
 public:
  using Fn = std::function<Tensor(const Tensor&)>;

  Constraint() = default;
  /// Throws ValueError naming an unknown constraint.
  Constraint(const char* name);         // NOLINT(google-explicit-constructor)
  Constraint(const std::string& name);  // NOLINT(google-explicit-constructor)
  Constraint(std::string class_name, std::map<std::string, double> config, Fn fn);

  explicit operator bool() const { return static_cast<bool>(fn_); }
  /// The projected weight. Throws ValueError on an empty constraint, ShapeError when the axis
  /// does not exist in w.
  Tensor operator()(const Tensor& w) const;
  const std::string& class_name() const { return class_name_; }
  const std::map<std::string, double>& config() const { return config_; }

 private:
  std::string class_name_;
  std::map<std::string, double> config_;
  Fn fn_;
};

namespace constraints {

/// Norms along `axis` (Keras: 0, the input axis of a Dense kernel) clipped to at most max_value:
/// w · clip(n, 0, max_value) / (1e-7 + n).
Constraint MaxNorm(double max_value = 2.0, int axis = 0);
/// Norms pulled into [min_value, max_value] at `rate`:
/// w · (rate · clip(n, min, max) + (1 - rate) · n) / (1e-7 + n).
Constraint MinMaxNorm(double min_value = 0.0, double max_value = 1.0, double rate = 1.0, int axis = 0);
/// Negative entries set to 0.
Constraint NonNeg();
/// w / (1e-7 + n) along axis.
Constraint UnitNorm(int axis = 0);

/// "max_norm", "min_max_norm", "non_neg", "unit_norm" or the class names, with Keras's defaults.
Constraint get(const std::string& name);
/// Keras 3's form {"module": "keras.constraints", "class_name", "config", "registered_name"};
/// null for an empty constraint.
nlohmann::json serialize(const Constraint& constraint);
/// Inverse of serialize (also a name, Keras 2's {"class_name", "config"}, or null for none).
Constraint deserialize(const nlohmann::json& value);

}  // namespace constraints
}  // namespace lamina
