// SPDX-License-Identifier: Apache-2.0
// lamina/layers/activation.hpp — Keras's activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax,
// Keras 2's ThresholdedReLU), Identity and AlphaDropout. Each keeps its own class name and
// config, so files round-trip with them; all pass an input mask on, as Keras's do.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/layers/axes.hpp"
#include "lamina/layers/core.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

// --- ReLU ------------------------------------------------------------------------------------

struct ReLUOptions {
  std::optional<double> max_value{};  ///< unset: no upper bound; must be >= 0
  double negative_slope = 0.0;         ///< the slope below the threshold; >= 0
  double threshold = 0.0;              ///< values at or below it are damped; >= 0
  std::string name{};
};

/// Keras's relu(x, negative_slope, max_value, threshold): x above the threshold (clipped to
/// max_value), negative_slope·(x − threshold) at or below it. NaN stays NaN.
class ReLULayer : public Layer {
 public:
  /// Throws ValueError for a negative max_value, negative_slope or threshold.
  explicit ReLULayer(ReLUOptions options);
  std::string class_name() const override { return "ReLU"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;
  const ReLUOptions& options() const { return options_; }

 private:
  ReLUOptions options_;
};

struct ReLU : LayerHandle<ReLULayer> {
  explicit ReLU(ReLUOptions options = {});
};

// --- LeakyReLU -------------------------------------------------------------------------------

/// x if x > 0 else negative_slope·x. The layer's default slope is Keras's 0.3 (the function
/// activations::leaky_relu's is 0.2). tf.keras 2 files name the slope "alpha".
class LeakyReLULayer : public Layer {
 public:
  /// Throws ValueError for a negative slope.
  LeakyReLULayer(double negative_slope, std::string name);
  std::string class_name() const override { return "LeakyReLU"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;
  double negative_slope() const { return negative_slope_; }

 private:
  double negative_slope_;
};

struct LeakyReLU : LayerHandle<LeakyReLULayer> {
  explicit LeakyReLU(double negative_slope = 0.3, Name name = {});
};

// --- PReLU -----------------------------------------------------------------------------------

struct PReLUOptions {
  Initializer alpha_initializer = "zeros";
  Regularizer alpha_regularizer{};  ///< none by default
  Constraint alpha_constraint{};    ///< none by default
  /// Axes (1 = the first after the batch) along which one slope is shared: {1, 2} for one slope
  /// per channel of an image. Empty: a slope per input element.
  std::vector<int> shared_axes{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// relu(x) − alpha·relu(−x) with a learned alpha of the input's shape (batch excluded), size 1
/// along the shared axes. Weight "alpha".
class PReLULayer : public Layer {
 public:
  explicit PReLULayer(PReLUOptions options);
  std::string class_name() const override { return "PReLU"; }
  /// Throws ShapeError naming the layer for a shared axis out of range or an unknown dimension
  /// that is not shared.
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;

  Tensor alpha;

 private:
  Shape alpha_shape(const Shape& input_shape) const;
  PReLUOptions options_;
};

struct PReLU : LayerHandle<PReLULayer> {
  explicit PReLU(PReLUOptions options = {});
};

// --- ELU -------------------------------------------------------------------------------------

/// x if x > 0 else alpha·(exp(x) − 1).
class ELULayer : public Layer {
 public:
  ELULayer(double alpha, std::string name);
  std::string class_name() const override { return "ELU"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;
  double alpha() const { return alpha_; }

 private:
  double alpha_;
};

struct ELU : LayerHandle<ELULayer> {
  explicit ELU(double alpha = 1.0, Name name = {});
};

// --- Softmax ---------------------------------------------------------------------------------

/// Softmax over one axis or jointly over several (exp(x − logsumexp(x, axes))). With an input
/// mask (Keras 3's call(inputs, mask)), masked positions take no share and output 0; the mask
/// broadcasts against the input from the last axis, as in Keras.
class SoftmaxLayer : public Layer {
 public:
  SoftmaxLayer(Axes axis, std::string name);
  std::string class_name() const override { return "Softmax"; }
  Tensor call(const Tensor& x, bool training) override;
  Tensor call_masked(const Tensor& x, const Tensor& mask, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;
  const Axes& axis() const { return axis_; }

 private:
  Axes axis_;
};

struct Softmax : LayerHandle<SoftmaxLayer> {
  explicit Softmax(Axes axis = -1, Name name = {});
};

// --- ThresholdedReLU (Keras 2) ---------------------------------------------------------------

/// x if x > theta else 0 (tf.keras 2's layer; Keras 3 writes it as ReLU(threshold=theta)).
class ThresholdedReLULayer : public Layer {
 public:
  /// Throws ValueError for a negative theta.
  ThresholdedReLULayer(double theta, std::string name);
  std::string class_name() const override { return "ThresholdedReLU"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;
  double theta() const { return theta_; }

 private:
  double theta_;
};

struct ThresholdedReLU : LayerHandle<ThresholdedReLULayer> {
  explicit ThresholdedReLU(double theta = 1.0, Name name = {});
};

// --- Identity --------------------------------------------------------------------------------

/// Returns its input (and its mask) unchanged.
class IdentityLayer : public Layer {
 public:
  explicit IdentityLayer(std::string name);
  std::string class_name() const override { return "Identity"; }
  Tensor call(const Tensor& x, bool) override { return x; }
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
};

struct Identity : LayerHandle<IdentityLayer> {
  explicit Identity(Name name = {});
};

// --- AlphaDropout ----------------------------------------------------------------------------

/// Dropout that keeps SELU's self-normalisation (Keras's formula): in training each element
/// (or noise_shape cell) is dropped with probability `rate` to −alpha·scale of SELU, then
/// y = a·x' + b with a = ((1 − rate)(1 + rate·alpha_p²))^−½, b = −a·alpha_p·rate. Identity at
/// inference. Takes Dropout's options (noise_shape, seed, name, dtype).
class AlphaDropoutLayer : public Layer {
 public:
  /// Throws ValueError unless 0 <= rate < 1 and every noise_shape entry is positive or -1.
  AlphaDropoutLayer(double rate, DropoutOptions options);
  std::string class_name() const override { return "AlphaDropout"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;
  double rate() const { return rate_; }

 private:
  double rate_;
  DropoutOptions options_;
  std::uint64_t draws_ = 0;  // counters used so far by a seeded layer
};

struct AlphaDropout : LayerHandle<AlphaDropoutLayer> {
  explicit AlphaDropout(double rate, DropoutOptions options = {});
};

}  // namespace lamina::layers
