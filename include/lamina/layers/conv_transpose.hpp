// SPDX-License-Identifier: Apache-2.0
// lamina/layers/conv_transpose.hpp — Conv2DTranspose, channels last or first, with Keras's kernel
// layout (kh, kw, filters, in) and bias (filters,) in both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lamina/activations.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

struct Conv2DTransposeOptions {
  Size2D strides = 1;
  std::string padding = "valid";  ///< "valid" | "same"
  /// Extra rows/columns at the bottom/right of the output, each < its stride; empty (Keras's None)
  /// picks Keras's default (see conv_transpose_output_length).
  std::optional<Size2D> output_padding{};
  /// "channels_last": x is (batch, height, width, channels); "channels_first": (batch, channels,
  /// height, width).
  std::string data_format = "channels_last";
  Size2D dilation_rate = 1;  ///< > 1 only with strides 1 (as Keras)
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};    ///< none by default, as the four below
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};  ///< applied to the layer's output
  Constraint kernel_constraint{};      ///< applied after each optimizer update
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// output = activation(conv2d_transpose(x, kernel) + bias) over x (batch, height, width,
/// channels): the upsampling "deconvolution", numerically Keras's on TensorFlow.
class Conv2DTransposeLayer : public Layer {
 public:
  /// Throws ValueError on non-positive sizes, an unknown padding or data_format, output_padding
  /// not below strides, or strides > 1 together with dilation_rate > 1.
  Conv2DTransposeLayer(std::int64_t filters, Size2D kernel_size, Conv2DTransposeOptions options);
  std::string class_name() const override { return "Conv2DTranspose"; }
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer for an input that is not 4-D, has unknown channels, or
  /// other channels than the built kernel.
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  std::int64_t filters() const { return filters_; }
  Size2D kernel_size() const { return kernel_size_; }
  const Conv2DTransposeOptions& options() const { return options_; }

  Tensor kernel;  ///< (kh, kw, filters, in)
  Tensor bias;    ///< (filters,), undefined without use_bias

 private:
  /// check_input and compute_output_shape on the channels_last view of the input.
  void check_input(const Shape& s) const;
  Shape output_shape_last(const Shape& s) const;
  std::int64_t filters_;
  Size2D kernel_size_;
  Conv2DTransposeOptions options_;
  KernelBiasRegularization regularization_;
  Padding padding_;
  bool channels_first_ = false;
};

/// `Conv2DTranspose(32, 3, {.strides = 2, .padding = "same"})` doubles height and width.
struct Conv2DTranspose : LayerHandle<Conv2DTransposeLayer> {
  Conv2DTranspose(std::int64_t filters, Size2D kernel_size, Conv2DTransposeOptions options = {});
};

}  // namespace lamina::layers
