// SPDX-License-Identifier: Apache-2.0
// lamina/regularizers.hpp — Keras's weight and activity regularizers (L1, L2, L1L2), by string and
// as values. A layer adds the penalty of each regularized weight (and of its regularized outputs)
// to the loss that training minimises and reports.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "lamina/tensor.hpp"

namespace lamina {

/// A regularizer as a value: empty (none, the default of every layer option), made from a Keras
/// name ("l1", "l2", "l1_l2", "L2"...) or by the factories below. Calling it on a tensor returns
/// the scalar penalty (differentiable).
class Regularizer {
 public:
  using Fn = std::function<Tensor(const Tensor&)>;

  Regularizer() = default;
  /// Throws ValueError naming an unknown regularizer.
  Regularizer(const char* name);         // NOLINT(google-explicit-constructor)
  Regularizer(const std::string& name);  // NOLINT(google-explicit-constructor)
  /// class_name is Keras's class name ("L2"); config its numeric arguments ({"l2": 0.01}).
  Regularizer(std::string class_name, std::map<std::string, double> config, Fn fn);

  explicit operator bool() const { return static_cast<bool>(fn_); }
  /// The penalty of x (a scalar of x's dtype). Throws ValueError on an empty regularizer.
  Tensor operator()(const Tensor& x) const;
  const std::string& class_name() const { return class_name_; }
  const std::map<std::string, double>& config() const { return config_; }

 private:
  std::string class_name_;
  std::map<std::string, double> config_;
  Fn fn_;
};

namespace regularizers {

/// l1 · sum(|x|).
Regularizer L1(double l1 = 0.01);
/// l2 · sum(x²) (no ½, as Keras).
Regularizer L2(double l2 = 0.01);
/// l1 · sum(|x|) + l2 · sum(x²).
Regularizer L1L2(double l1 = 0.0, double l2 = 0.0);

/// "l1", "l2" (factor 0.01), "l1_l2" (0.01 each, Keras's l1_l2 function), or a class name with
/// its defaults. Throws ValueError listing the names.
Regularizer get(const std::string& name);
/// Keras 3's form {"module": "keras.regularizers", "class_name", "config", "registered_name"};
/// null for an empty regularizer.
nlohmann::json serialize(const Regularizer& regularizer);
/// Inverse of serialize (also a name, Keras 2's {"class_name", "config"}, or null for none).
Regularizer deserialize(const nlohmann::json& value);

}  // namespace regularizers
}  // namespace lamina
