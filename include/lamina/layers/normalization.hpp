// SPDX-License-Identifier: Apache-2.0
// lamina/layers/normalization.hpp — BatchNormalization (any feature axis) and LayerNormalization
// (last axis), with Keras's weights gamma, beta (and moving_mean, moving_variance).
#pragma once

#include <string>

#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
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
  int axis = -1;  ///< only the last axis is supported
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

/// y = gamma·(x − mean)/sqrt(var + epsilon) + beta with each sample's statistics over the last
/// axis (variance biased); the same in training and inference.
class LayerNormalizationLayer : public Layer {
 public:
  explicit LayerNormalizationLayer(LayerNormalizationOptions options);
  std::string class_name() const override { return "LayerNormalization"; }
  bool autocasts() const override { return false; }  ///< as Keras
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  Tensor gamma, beta;  ///< (C,), undefined without scale / center

 private:
  void check_input(const Shape& s) const;
  LayerNormalizationOptions options_;
};

struct LayerNormalization : LayerHandle<LayerNormalizationLayer> {
  explicit LayerNormalization(LayerNormalizationOptions options = {});
};

}  // namespace lamina::layers
