// SPDX-License-Identifier: Apache-2.0
// lamina/layers/conv.hpp — Conv1D and Conv2D, channels last or first, with Keras's kernel layout
// (k, in/groups, filters) / (kh, kw, in/groups, filters) and bias (filters,) in both.
#pragma once

#include <cstdint>
#include <string>

#include "lamina/activations.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

/// What Conv1D and Conv2D share; a 1-D convolution is kept in 2-D form with height 1.
class BaseConvLayer : public Layer {
 public:
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer when the input has the wrong rank, unknown or
  /// indivisible channels, or is too small for a 'valid' kernel (an empty output).
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  int rank() const { return rank_; }
  std::int64_t filters() const { return filters_; }
  Size2D kernel_size() const { return kernel_size_; }
  Size2D strides() const { return strides_; }
  Size2D dilation_rate() const { return dilation_; }
  Padding padding() const { return padding_; }
  std::int64_t groups() const { return groups_; }
  const lamina::Activation& activation() const { return activation_; }
  bool channels_first() const { return channels_first_; }

  Tensor kernel;  ///< (kh, kw, in/groups, filters), or (k, in/groups, filters) for Conv1D
  Tensor bias;    ///< (filters,), undefined without use_bias

 protected:
  KernelBiasRegularization regularization_;  ///< set by the subclasses from their options

  /// `cls` names the class in messages. Throws ValueError on non-positive sizes, an unknown
  /// padding or data_format, or filters not divisible by groups.
  BaseConvLayer(const char* cls, int rank, std::int64_t filters, Size2D kernel_size, Size2D strides,
                const std::string& padding, const std::string& data_format, Size2D dilation,
                std::int64_t groups,
                lamina::Activation activation, bool use_bias, Initializer kernel_initializer,
                Initializer bias_initializer, std::string name);

 private:
  /// check_input and compute_output_shape on the channels_last view of the input.
  void check_input(const Shape& input_shape) const;
  Shape output_shape_last(const Shape& input_shape) const;

  int rank_;
  std::int64_t filters_;
  Size2D kernel_size_, strides_, dilation_;
  Padding padding_;
  bool channels_first_ = false;
  std::int64_t groups_;
  lamina::Activation activation_;
  bool use_bias_;
  Initializer kernel_initializer_, bias_initializer_;
};

// --- Conv2D ----------------------------------------------------------------------------------

struct Conv2DOptions {
  Size2D strides = 1;
  std::string padding = "valid";  ///< "valid" | "same"
  /// "channels_last": x is (batch, height, width, channels); "channels_first": (batch, channels,
  /// height, width). The kernel's layout is the same for both.
  std::string data_format = "channels_last";
  Size2D dilation_rate = 1;
  std::int64_t groups = 1;
  lamina::Activation activation{};  ///< linear by default
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};    ///< none by default, as the four below
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint kernel_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// output = activation(conv2d(x, kernel) + bias) over x (batch, height, width, channels), or
/// (batch, channels, height, width) with data_format "channels_first".
class Conv2DLayer : public BaseConvLayer {
 public:
  Conv2DLayer(std::int64_t filters, Size2D kernel_size, Conv2DOptions options);
  std::string class_name() const override { return "Conv2D"; }
};

/// `Conv2D(32, 3, {.activation = "relu"})`, `Conv2D(64, {3, 5}, {.strides = 2, .padding =
/// "same"})`.
struct Conv2D : LayerHandle<Conv2DLayer> {
  Conv2D(std::int64_t filters, Size2D kernel_size, Conv2DOptions options = {});
};

// --- Conv1D ----------------------------------------------------------------------------------

struct Conv1DOptions {
  std::int64_t strides = 1;
  std::string padding = "valid";  ///< "valid" | "same" | "causal"
  /// "channels_last": x is (batch, steps, channels); "channels_first": (batch, channels, steps).
  std::string data_format = "channels_last";
  std::int64_t dilation_rate = 1;
  std::int64_t groups = 1;
  lamina::Activation activation{};
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};    ///< none by default, as the four below
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint kernel_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// output = activation(conv1d(x, kernel) + bias) over x (batch, steps, channels).
class Conv1DLayer : public BaseConvLayer {
 public:
  Conv1DLayer(std::int64_t filters, std::int64_t kernel_size, Conv1DOptions options);
  std::string class_name() const override { return "Conv1D"; }
};

struct Conv1D : LayerHandle<Conv1DLayer> {
  Conv1D(std::int64_t filters, std::int64_t kernel_size, Conv1DOptions options = {});
};

}  // namespace lamina::layers
