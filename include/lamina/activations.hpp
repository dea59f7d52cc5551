// SPDX-License-Identifier: Apache-2.0
// lamina/activations.hpp — Keras's activations, by string and as functions.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "lamina/ops.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// An activation as a value: made from a Keras name ("relu", "softmax", ...) or from any
/// callable Tensor(const Tensor&). The default is linear (identity).
class Activation {
 public:
  using Fn = std::function<Tensor(const Tensor&)>;

  Activation();
  /// Throws ValueError naming the unknown activation and listing the known ones.
  Activation(const char* name);         // NOLINT(google-explicit-constructor): Keras-style strings
  Activation(const std::string& name);  // NOLINT(google-explicit-constructor)
  Activation(Fn fn, std::string name = "custom");  // NOLINT(google-explicit-constructor)

  Tensor operator()(const Tensor& x) const { return fn_(x); }
  /// The Keras name ("relu"), or the name given with a custom function.
  const std::string& name() const { return name_; }
  bool is_linear() const { return name_ == "linear"; }
  /// The fused-kernel form when the activation has one (linear, relu, sigmoid, tanh).
  std::optional<FusedActivation> fused() const;

 private:
  std::string name_;
  Fn fn_;
};

namespace activations {

Tensor linear(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softmax(const Tensor& x, int axis = -1);
/// approximate=false: x·Φ(x) with the exact normal CDF; true: the tanh approximation.
Tensor gelu(const Tensor& x, bool approximate = false);
/// x if x > 0 else alpha·(exp(x) − 1).
Tensor elu(const Tensor& x, double alpha = 1.0);
/// scale·elu(x, alpha) with Keras's constants (alpha 1.67326324, scale 1.05070098).
Tensor selu(const Tensor& x);
/// log(1 + exp(x)), computed stably.
Tensor softplus(const Tensor& x);
/// x / (1 + |x|).
Tensor softsign(const Tensor& x);
/// x·sigmoid(x) (alias silu).
Tensor swish(const Tensor& x);
Tensor silu(const Tensor& x);
/// x if x >= 0 else negative_slope·x (the function's Keras default is 0.2).
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.2);
/// Keras 3: clip(x/6 + 0.5, 0, 1).
Tensor hard_sigmoid(const Tensor& x);
/// Keras 2: clip(0.2·x + 0.5, 0, 1). Old files' "hard_sigmoid" means this one.
Tensor hard_sigmoid_keras2(const Tensor& x);

/// Looks up an activation by its Keras name ("hard_sigmoid_keras2" reaches the Keras 2 formula).
Activation get(const std::string& name);

}  // namespace activations
}  // namespace lamina
