// SPDX-License-Identifier: Apache-2.0
// lamina/layers/normalization.hpp — BatchNormalization (any feature axis), LayerNormalization (any
// axes), GroupNormalization, UnitNormalization and RMSNormalization, with Keras's weights (gamma,
// beta, moving_mean, moving_variance; RMSNormalization's scale).
#pragma once

#include <string>

#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/layers/axes.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

// --- BatchNormalization ----------------------------------------------------------------------

struct BatchNormalizationOptions {
  int axis = -1;  ///< the feature axis (-1: channels last; 1: channels first); not the batch axis
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;  ///< learn beta
  bool scale = true;   ///< learn gamma
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  Initializer moving_mean_initializer = "zeros";
  Initializer moving_variance_initializer = "ones";
  Regularizer beta_regularizer{};   ///< none by default; penalty added to losses()
  Regularizer gamma_regularizer{};
  Constraint beta_constraint{};     ///< none by default; applied after each update
  Constraint gamma_constraint{};
  /// Keras 3's synchronized: in training under a distribution (distribute::DataParallel), the
  /// batch statistics are the global batch's (every replica's sum, sum of squares and count,
  /// all-reduced; the backward's reductions too), so each replica normalises as one process with
  /// the global batch would. Without a distribution, the ordinary layer.
  bool synchronized = false;
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Training (and trainable): y = gamma·(x − mean_B)/sqrt(var_B + epsilon) + beta with the
/// batch's statistics over every axis but `axis` (variance biased), then, as Keras 3,
/// moving = moving·momentum + batch·(1 − momentum) for both mean and variance.
/// Inference, or a layer with trainable=false: the moving statistics instead.
class BatchNormalizationLayer : public Layer {
 public:
  /// Throws ValueError on epsilon <= 0 or momentum outside [0, 1].
  explicit BatchNormalizationLayer(BatchNormalizationOptions options);
  std::string class_name() const override { return "BatchNormalization"; }
  /// The mask passes on (Keras 3). Keras also weights a training step's batch statistics by it,
  /// which lamina does not: call_masked refuses training on a masked input.
  bool supports_masking() const override { return true; }
  Tensor call_masked(const Tensor& x, const Tensor& mask, bool training) override;
  /// No (as Keras): it computes in float32 and returns its input's dtype.
  bool autocasts() const override { return false; }
  /// Throws ShapeError naming the layer for an axis out of range (or the batch axis) or an unknown
  /// dimension along it.
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  const BatchNormalizationOptions& options() const { return options_; }

  Tensor gamma, beta;                   ///< (C,), undefined without scale / center
  Tensor moving_mean, moving_variance;  ///< (C,), non-trainable

 private:
  /// The axis as an index into `s`, after checking `s` against it and the weights.
  int check_input(const Shape& s) const;
  BatchNormalizationOptions options_;
};

struct BatchNormalization : LayerHandle<BatchNormalizationLayer> {
  explicit BatchNormalization(BatchNormalizationOptions options = {});
};

// --- LayerNormalization ----------------------------------------------------------------------

struct LayerNormalizationOptions {
  /// The axes normalised over together: -1 (the last), or a list such as {1, 2, 3}. gamma and
  /// beta have the listed axes' dimensions in the listed order (Keras 3 lists them sorted).
  Axes axis = -1;
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  /// Keras 3's (deprecated) rms_scaling: y = gamma·x/sqrt(var + epsilon), the input not centred
  /// (var is still the variance about the mean, as Keras computes it) and no beta weight.
  bool rms_scaling = false;
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  Regularizer beta_regularizer{};  ///< none by default
  Regularizer gamma_regularizer{};
  Constraint beta_constraint{};    ///< none by default
  Constraint gamma_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// y = gamma·(x − mean)/sqrt(var + epsilon) + beta with each sample's statistics over `axis`
/// (variance biased); the same in training and inference.
class LayerNormalizationLayer : public Layer {
 public:
  explicit LayerNormalizationLayer(LayerNormalizationOptions options);
  std::string class_name() const override { return "LayerNormalization"; }
  bool supports_masking() const override { return true; }
  bool autocasts() const override { return false; }  ///< as Keras
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  Tensor gamma, beta;  ///< the normalised axes' dimensions, undefined without scale / center

 private:
  /// The axes as indices into `s`, after checking `s` against them and the weights.
  std::vector<int> check_input(const Shape& s) const;
  LayerNormalizationOptions options_;
};

struct LayerNormalization : LayerHandle<LayerNormalizationLayer> {
  explicit LayerNormalization(LayerNormalizationOptions options = {});
};

// --- GroupNormalization ----------------------------------------------------------------------

struct GroupNormalizationOptions {
  /// Channel groups; the channels must divide into them. -1: one group per channel (instance
  /// normalization).
  int groups = 32;
  int axis = -1;  ///< the channel axis
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  Regularizer beta_regularizer{};  ///< none by default
  Regularizer gamma_regularizer{};
  Constraint beta_constraint{};    ///< none by default
  Constraint gamma_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Each sample's channels split into `groups` groups; each group is normalised with its own
/// mean and (biased) variance over its channels and every other non-batch axis, then
/// y = gamma·x̂ + beta per channel. The same in training and inference; 16-bit inputs compute in
/// float32.
class GroupNormalizationLayer : public Layer {
 public:
  /// Throws ValueError for groups 0 or below -1, or epsilon <= 0.
  explicit GroupNormalizationLayer(GroupNormalizationOptions options);
  std::string class_name() const override { return "GroupNormalization"; }
  bool autocasts() const override { return false; }  ///< as Keras
  /// Throws ShapeError naming the layer when the channels (known) do not divide into the groups.
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;

  Tensor gamma, beta;  ///< (C,), undefined without scale / center

 private:
  int check_input(const Shape& s) const;
  GroupNormalizationOptions options_;
};

struct GroupNormalization : LayerHandle<GroupNormalizationLayer> {
  explicit GroupNormalization(GroupNormalizationOptions options = {});
};

// --- UnitNormalization -----------------------------------------------------------------------

/// x / ||x||₂ over `axis` (one or several axes), each sample alone: Keras 3's
/// x·min(1/sqrt(Σx²), 1e12). No weights.
class UnitNormalizationLayer : public Layer {
 public:
  UnitNormalizationLayer(Axes axis, std::string name);
  std::string class_name() const override { return "UnitNormalization"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;

 private:
  Axes axis_;
};

struct UnitNormalization : LayerHandle<UnitNormalizationLayer> {
  explicit UnitNormalization(Axes axis = -1, Name name = {});
};

// --- RMSNormalization ------------------------------------------------------------------------

struct RMSNormalizationOptions {
  /// The axes whose root mean square divides x: the last (-1) or several trailing axes
  /// ({-2, -1}); Keras multiplies by a scale broadcast against the last axes, so other axes are
  /// refused.
  Axes axis = -1;
  double epsilon = 1e-6;
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Keras 3's y = x / sqrt(mean(x², axis) + epsilon) · scale, with a learned `scale` (weight
/// "scale", initialised to ones) of the normalised axes' dimensions. 16-bit inputs compute in
/// float32.
class RMSNormalizationLayer : public Layer {
 public:
  /// Throws ValueError on epsilon <= 0.
  explicit RMSNormalizationLayer(RMSNormalizationOptions options);
  std::string class_name() const override { return "RMSNormalization"; }
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  Tensor scale;

 private:
  std::vector<int> check_input(const Shape& s) const;
  RMSNormalizationOptions options_;
};

struct RMSNormalization : LayerHandle<RMSNormalizationLayer> {
  explicit RMSNormalization(RMSNormalizationOptions options = {});
};

}  // namespace lamina::layers
