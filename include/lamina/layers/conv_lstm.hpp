// SPDX-License-Identifier: Apache-2.0
// lamina/layers/conv_lstm.hpp — ConvLSTM1D and ConvLSTM2D: an LSTM whose input and recurrent
// transformations are convolutions, with Keras's weight layout: kernel (k..., in, 4·filters),
// recurrent_kernel (k..., filters, 4·filters), bias (4·filters), gate blocks i, f, c, o.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lamina/layers/recurrent.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

/// Keras's arguments of ConvLSTM1D / ConvLSTM2D, in Keras's order. ConvLSTM1D reads the width
/// entry of kernel_size, strides and dilation_rate (`ConvLSTM1D(8, 3, {.strides = 2})`).
struct ConvLSTMOptions {
  Size2D strides = 1;
  std::string padding = "valid";               ///< "valid" | "same" (of the input convolution)
  std::string data_format = "channels_last";   ///< or "channels_first": (batch, steps, channels, ...)
  Size2D dilation_rate = 1;
  lamina::Activation activation = "tanh";
  lamina::Activation recurrent_activation = "sigmoid";
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer recurrent_initializer = "orthogonal";
  Initializer bias_initializer = "zeros";
  bool unit_forget_bias = true;  ///< the forget gate's bias starts at 1
  Regularizer kernel_regularizer{};
  Regularizer recurrent_regularizer{};
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint kernel_constraint{};
  Constraint recurrent_constraint{};
  Constraint bias_constraint{};
  double dropout = 0.0;            ///< on the inputs: one mask per gate and sequence (training only)
  double recurrent_dropout = 0.0;  ///< on the state entering the recurrence, likewise
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  std::string name{};
  std::string dtype{};  ///< dtype policy name; empty: the global policy
};

/// Keras's ConvLSTMCell: one step over x (batch, spatial..., channels) (channels_first:
/// (batch, channels, spatial...)) and the states h, c of the convolution's output shape. The
/// input convolution takes strides, padding and dilation_rate; the recurrent one is 'same' with
/// stride 1, as in Keras.
class ConvLSTMCellLayer : public RecurrentCellLayer {
 public:
  /// Throws ValueError on bad sizes, an unknown padding or data_format, or strides > 1 together
  /// with dilation_rate > 1.
  ConvLSTMCellLayer(int rank, std::int64_t filters, Size2D kernel_size, const ConvLSTMOptions& options);
  std::string class_name() const override { return "ConvLSTMCell"; }
  void build(const Shape& step_input_shape) override;
  Shape compute_output_shape(const Shape& step_input_shape) override;
  nlohmann::json get_config() const override;
  RecurrentResult scan(const Tensor& x, const Tensor& mask, const std::vector<Tensor>& initial, bool training,
                       bool go_backwards, bool return_sequences) override;
  Shape state_shape(const Shape& step_input_shape) const override;

  /// Keras's ConvLSTMCell arguments (filters, kernel_size ... recurrent_dropout, seed).
  nlohmann::json conv_config() const;
  int rank() const { return rank_; }
  bool channels_first() const { return channels_first_; }

 private:
  /// The input convolution with the cell's geometry, or the recurrent one ('same', stride 1).
  Tensor convolve(const Tensor& x, const Tensor& kernel, const Tensor& bias, bool recurrent) const;

  int rank_;
  Size2D kernel_size_, strides_, dilation_;
  Padding padding_;
  bool channels_first_;
};

/// ConvLSTM1D / ConvLSTM2D: RNN over a ConvLSTMCell; input (batch, steps, spatial..., channels).
class ConvLSTMLayer : public RNNLayer {
 public:
  ConvLSTMLayer(int rank, std::int64_t filters, Size2D kernel_size, ConvLSTMOptions options);
  std::string class_name() const override;
  /// Throws ShapeError naming the layer on a wrong rank, unknown spatial or channel sizes, or a
  /// 'valid' kernel larger than the input.
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  /// As an RNN's, with Keras's cell group name "conv_lstm_cell" whatever the rank.
  std::vector<Keras3Group> keras3_layout() const override;
  const ConvLSTMCellLayer& conv_cell() const;
};

/// `ConvLSTM2D(16, 3, {.padding = "same", .return_sequences = true})` over (batch, steps, h, w, c).
struct ConvLSTM2D : LayerHandle<ConvLSTMLayer> {
  ConvLSTM2D(std::int64_t filters, Size2D kernel_size, ConvLSTMOptions options = {});
};
/// `ConvLSTM1D(8, 3)` over (batch, steps, length, channels).
struct ConvLSTM1D : LayerHandle<ConvLSTMLayer> {
  ConvLSTM1D(std::int64_t filters, std::int64_t kernel_size, ConvLSTMOptions options = {});
};

}  // namespace lamina::layers
