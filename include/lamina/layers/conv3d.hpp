// SPDX-License-Identifier: Apache-2.0
// lamina/layers/conv3d.hpp — Conv3D, Conv3DTranspose and Conv1DTranspose with Keras's layouts:
// kernel (kd, kh, kw, in/groups, filters), transposed (kd, kh, kw, filters, in) and (k, filters,
// in); bias (filters,). channels_last or channels_first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lamina/activations.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"
#include "lamina/ops/conv3d.hpp"

namespace lamina::layers {

struct Conv3DOptions {
  Size3D strides = 1;
  std::string padding = "valid";              ///< "valid" | "same"
  std::string data_format = "channels_last";  ///< or "channels_first": (batch, channels, d, h, w)
  Size3D dilation_rate = 1;
  std::int64_t groups = 1;
  lamina::Activation activation{};  ///< linear by default
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};  ///< none by default, as the four below
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint kernel_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

struct Conv3DTransposeOptions {
  Size3D strides = 1;
  std::string padding = "valid";  ///< "valid" | "same"
  /// Extra slices at the end of each output axis, each < its stride; empty (Keras's None) picks
  /// Keras's default (see conv_transpose_output_length).
  std::optional<Size3D> output_padding{};
  std::string data_format = "channels_last";
  Size3D dilation_rate = 1;  ///< > 1 only with strides 1 (as Keras)
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint kernel_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};
};

struct Conv1DTransposeOptions {
  std::int64_t strides = 1;
  std::string padding = "valid";  ///< "valid" | "same"
  std::optional<std::int64_t> output_padding{};
  std::string data_format = "channels_last";  ///< or "channels_first": (batch, channels, steps)
  std::int64_t dilation_rate = 1;
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint kernel_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};
};

/// A convolution over 1 or 3 spatial axes, plain or transposed: output = activation(conv(x,
/// kernel) + bias). A 1-D layer is computed as a 3-D one of depth and height 1.
class ConvNDLayer : public Layer {
 public:
  /// Everything a ConvNDLayer is made of; the handles below fill it from their options.
  struct Spec {
    std::string cls{};  ///< "Conv3D" | "Conv3DTranspose" | "Conv1DTranspose"
    int rank = 3;       ///< 1: only the w of each Size3D counts
    bool transposed = false;
    std::int64_t filters = 1;
    Size3D kernel_size{};
    Size3D strides{};
    Size3D dilation_rate{};
    std::string padding = "valid";
    std::string data_format = "channels_last";
    std::optional<Size3D> output_padding{};
    std::int64_t groups = 1;
    lamina::Activation activation{};
    bool use_bias = true;
    Initializer kernel_initializer = "glorot_uniform";
    Initializer bias_initializer = "zeros";
    KernelBiasRegularization regularization{};
    std::string name{};
    std::string dtype{};
  };
  /// Throws ValueError on non-positive sizes, an unknown padding or data_format, filters not
  /// divisible by groups, output_padding not below strides, or (transposed) strides > 1 together
  /// with dilation_rate > 1.
  explicit ConvNDLayer(Spec spec);
  std::string class_name() const override { return spec_.cls; }
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer when the input has the wrong rank, unknown or
  /// indivisible channels, or is too small for a 'valid' kernel (an empty output).
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  const Spec& spec() const { return spec_; }

  Tensor kernel;  ///< see the file comment for its layout
  Tensor bias;    ///< (filters,), undefined without use_bias

 private:
  void check_input(const Shape& channels_last) const;
  Spec spec_;
  Padding padding_ = Padding::valid;
  bool channels_first_ = false;
};

/// `Conv3D(16, 3, {.padding = "same", .activation = "relu"})` over (batch, depth, height, width,
/// channels).
struct Conv3D : LayerHandle<ConvNDLayer> {
  Conv3D(std::int64_t filters, Size3D kernel_size, Conv3DOptions options = {});
};
/// `Conv3DTranspose(8, 3, {.strides = 2, .padding = "same"})` doubles depth, height and width.
struct Conv3DTranspose : LayerHandle<ConvNDLayer> {
  Conv3DTranspose(std::int64_t filters, Size3D kernel_size, Conv3DTransposeOptions options = {});
};
/// `Conv1DTranspose(8, 3, {.strides = 2})` over (batch, steps, channels).
struct Conv1DTranspose : LayerHandle<ConvNDLayer> {
  Conv1DTranspose(std::int64_t filters, std::int64_t kernel_size, Conv1DTransposeOptions options = {});
};

}  // namespace lamina::layers
