// SPDX-License-Identifier: Apache-2.0
// lamina/layers/depthwise_conv.hpp — DepthwiseConv2D and SeparableConv2D, channels last or first,
// with Keras's layouts (the same for both): depthwise kernel (kh, kw, in, depth_multiplier), pointwise kernel
// (1, 1, in·depth_multiplier, filters).
#pragma once

#include <cstdint>
#include <string>

#include "lamina/activations.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

/// What both share: a per-channel spatial convolution (depth_multiplier filters per input
/// channel) with strides, padding and dilation.
class BaseDepthwiseLayer : public Layer {
 public:
  /// Throws ShapeError naming the layer for an input that is not 4-D, has unknown or other
  /// channels than the built kernel, or is too small for a 'valid' kernel.
  Shape compute_output_shape(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;

  Size2D kernel_size() const { return kernel_size_; }
  Size2D strides() const { return strides_; }
  Size2D dilation_rate() const { return dilation_; }
  Padding padding() const { return padding_; }
  std::int64_t depth_multiplier() const { return multiplier_; }
  bool channels_first() const { return channels_first_; }

  Tensor depthwise_kernel;  ///< (kh, kw, in, depth_multiplier)
  Tensor bias;              ///< (output channels,), undefined without use_bias

 protected:
  /// Throws ValueError on non-positive sizes, an unknown padding or data_format, or strides > 1
  /// together with dilation_rate > 1 (as Keras).
  BaseDepthwiseLayer(const std::string& cls, Size2D kernel_size, Size2D strides,
                     const std::string& padding, const std::string& data_format,
                     std::int64_t depth_multiplier, Size2D dilation,
                     lamina::Activation activation, bool use_bias, std::string name);
  /// The channel count of a (checked) input shape in the layer's data_format.
  std::int64_t input_channels(const Shape& input_shape) const;
  /// Output channels for `in` input channels.
  virtual std::int64_t output_channels(std::int64_t in) const = 0;
  /// The convolution before the activation; `act` may be fused into its last kernel.
  virtual Tensor convolve(const Tensor& x, FusedActivation act) const = 0;
  /// The keys both write, in Keras's order, up to use_bias, and the regularizers and constraints
  /// of the depthwise kernel, the bias and the output.
  nlohmann::json base_config() const;

  Size2D kernel_size_, strides_, dilation_;
  Padding padding_;
  bool channels_first_ = false;
  std::int64_t multiplier_;
  lamina::Activation activation_;
  bool use_bias_;
  /// Keras's depthwise_* and bias_* arguments and activity_regularizer, set by the subclasses:
  /// "kernel" stands for the depthwise kernel here.
  KernelBiasRegularization regularization_;

 private:
  /// compute_output_shape on the channels_last view of the input.
  Shape output_shape_last(const Shape& input_shape) const;
};

// --- DepthwiseConv2D -------------------------------------------------------------------------

struct DepthwiseConv2DOptions {
  Size2D strides = 1;
  std::string padding = "valid";  ///< "valid" | "same"
  /// "channels_last": x is (batch, height, width, channels); "channels_first": (batch, channels,
  /// height, width).
  std::string data_format = "channels_last";
  std::int64_t depth_multiplier = 1;
  Size2D dilation_rate = 1;
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer depthwise_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer depthwise_regularizer{};  ///< none by default, as the four below
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};   ///< applied to the layer's output
  Constraint depthwise_constraint{};    ///< applied after each optimizer update
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// output[..., c·m + j] = activation(Σ x[..., c] ⋆ depthwise_kernel[:, :, c, j] + bias): each
/// input channel filtered on its own. Weights: depthwise_kernel, bias (in·depth_multiplier,).
class DepthwiseConv2DLayer : public BaseDepthwiseLayer {
 public:
  DepthwiseConv2DLayer(Size2D kernel_size, DepthwiseConv2DOptions options);
  std::string class_name() const override { return "DepthwiseConv2D"; }
  void build(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

 protected:
  std::int64_t output_channels(std::int64_t in) const override { return in * multiplier_; }
  Tensor convolve(const Tensor& x, FusedActivation act) const override;

 private:
  Initializer depthwise_initializer_, bias_initializer_;
};

/// `DepthwiseConv2D(3, {.depth_multiplier = 2, .padding = "same"})`.
struct DepthwiseConv2D : LayerHandle<DepthwiseConv2DLayer> {
  explicit DepthwiseConv2D(Size2D kernel_size, DepthwiseConv2DOptions options = {});
};

// --- SeparableConv2D -------------------------------------------------------------------------

struct SeparableConv2DOptions {
  Size2D strides = 1;
  std::string padding = "valid";  ///< "valid" | "same"
  /// "channels_last": x is (batch, height, width, channels); "channels_first": (batch, channels,
  /// height, width).
  std::string data_format = "channels_last";
  Size2D dilation_rate = 1;
  std::int64_t depth_multiplier = 1;
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer depthwise_initializer = "glorot_uniform";
  Initializer pointwise_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer depthwise_regularizer{};  ///< none by default, as the six below
  Regularizer pointwise_regularizer{};
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};   ///< applied to the layer's output
  Constraint depthwise_constraint{};    ///< applied after each optimizer update
  Constraint pointwise_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// A depthwise convolution (no bias) then a 1x1 convolution to `filters` channels, bias and
/// activation. Weights: depthwise_kernel, pointwise_kernel (1, 1, in·depth_multiplier, filters),
/// bias (filters,).
class SeparableConv2DLayer : public BaseDepthwiseLayer {
 public:
  SeparableConv2DLayer(std::int64_t filters, Size2D kernel_size, SeparableConv2DOptions options);
  std::string class_name() const override { return "SeparableConv2D"; }
  void build(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  std::int64_t filters() const { return filters_; }

  Tensor pointwise_kernel;  ///< (1, 1, in·depth_multiplier, filters)

 protected:
  std::int64_t output_channels(std::int64_t) const override { return filters_; }
  Tensor convolve(const Tensor& x, FusedActivation act) const override;

 private:
  std::int64_t filters_;
  Initializer depthwise_initializer_, pointwise_initializer_, bias_initializer_;
  Regularizer pointwise_regularizer_;
  Constraint pointwise_constraint_;
};

/// `SeparableConv2D(64, 3, {.padding = "same", .activation = "relu"})`.
struct SeparableConv2D : LayerHandle<SeparableConv2DLayer> {
  SeparableConv2D(std::int64_t filters, Size2D kernel_size, SeparableConv2DOptions options = {});
};

}  // namespace lamina::layers
