// SPDX-License-Identifier: Apache-2.0
// lamina/layers/depthwise_conv1d.hpp — DepthwiseConv1D and SeparableConv1D over (batch, steps,
// channels), or channels first, with Keras's layouts: depthwise kernel (k, in, depth_multiplier),
// pointwise kernel (1, in·depth_multiplier, filters).
#pragma once

#include <cstdint>
#include <string>

#include "lamina/activations.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

struct DepthwiseConv1DOptions {
  std::int64_t strides = 1;
  std::string padding = "valid";  ///< "valid" | "same" | "causal"
  std::int64_t depth_multiplier = 1;
  std::string data_format = "channels_last";  ///< or "channels_first": (batch, channels, steps)
  std::int64_t dilation_rate = 1;             ///< > 1 only with strides 1 (as Keras)
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer depthwise_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer depthwise_regularizer{};  ///< none by default, as the four below
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint depthwise_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

struct SeparableConv1DOptions {
  std::int64_t strides = 1;
  std::string padding = "valid";  ///< "valid" | "same" | "causal"
  std::string data_format = "channels_last";
  std::int64_t dilation_rate = 1;
  std::int64_t depth_multiplier = 1;
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer depthwise_initializer = "glorot_uniform";
  Initializer pointwise_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer depthwise_regularizer{};  ///< none by default, as the six below
  Regularizer pointwise_regularizer{};
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint depthwise_constraint{};
  Constraint pointwise_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};
};

/// A per-channel 1-D convolution (depth_multiplier filters per input channel), then for
/// SeparableConv1D a pointwise convolution to `filters` channels; bias and activation last. The
/// steps are computed as an image of height 1 by the 2-D depthwise and pointwise ops.
class Depthwise1DLayer : public Layer {
 public:
  /// Everything the layer is made of; the handles below fill it from their options.
  struct Spec {
    std::string cls{};         ///< "DepthwiseConv1D" | "SeparableConv1D"
    std::int64_t filters = 0;  ///< 0: no pointwise step (DepthwiseConv1D)
    std::int64_t kernel_size = 1;
    std::int64_t strides = 1;
    std::int64_t dilation_rate = 1;
    std::int64_t depth_multiplier = 1;
    std::string padding = "valid";
    std::string data_format = "channels_last";
    lamina::Activation activation{};
    bool use_bias = true;
    Initializer depthwise_initializer = "glorot_uniform";
    Initializer pointwise_initializer = "glorot_uniform";
    Initializer bias_initializer = "zeros";
    Regularizer depthwise_regularizer{};
    Regularizer pointwise_regularizer{};
    Regularizer bias_regularizer{};
    Regularizer activity_regularizer{};
    Constraint depthwise_constraint{};
    Constraint pointwise_constraint{};
    Constraint bias_constraint{};
    std::string name{};
    std::string dtype{};
  };
  /// Throws ValueError on non-positive sizes, an unknown padding or data_format, or strides > 1
  /// together with dilation_rate > 1.
  explicit Depthwise1DLayer(Spec spec);
  std::string class_name() const override { return spec_.cls; }
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer for an input that is not 3-D, has unknown or other
  /// channels than the built kernel, or is too short for a 'valid' kernel.
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  const Spec& spec() const { return spec_; }
  bool separable() const { return spec_.filters > 0; }

  Tensor depthwise_kernel;  ///< (k, in, depth_multiplier)
  Tensor pointwise_kernel;  ///< (1, in·depth_multiplier, filters); SeparableConv1D only
  Tensor bias;              ///< (output channels,), undefined without use_bias

 private:
  Spec spec_;
  Padding padding_ = Padding::valid;
  bool channels_first_ = false;
};

/// `DepthwiseConv1D(3, {.depth_multiplier = 2, .padding = "same"})`.
struct DepthwiseConv1D : LayerHandle<Depthwise1DLayer> {
  explicit DepthwiseConv1D(std::int64_t kernel_size, DepthwiseConv1DOptions options = {});
};
/// `SeparableConv1D(16, 5, {.padding = "causal", .activation = "relu"})`.
struct SeparableConv1D : LayerHandle<Depthwise1DLayer> {
  SeparableConv1D(std::int64_t filters, std::int64_t kernel_size, SeparableConv1DOptions options = {});
};

}  // namespace lamina::layers
