// SPDX-License-Identifier: Apache-2.0
// layers/config_keys.hpp — the pieces of the config-key audit that several layer families share
// (engine::LayerSpec's honoured_keys and key_rules). Private to layers/.
#pragma once

#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "engine/layer_spec.hpp"

namespace lamina::layers::keys {

/// The union of key sets.
inline std::set<std::string> join(std::initializer_list<std::set<std::string>> parts) {
  std::set<std::string> s;
  for (const auto& p : parts) s.insert(p.begin(), p.end());
  return s;
}

/// The regularizers and constraints of a kernel and a bias (KernelBiasRegularization).
inline std::set<std::string> kernel_bias() {
  return {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"};
}

/// What the convolutions (Conv1D, Conv2D, Conv2DTranspose) read.
inline std::set<std::string> conv() {
  return join({{"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups", "activation",
                "use_bias", "kernel_initializer", "bias_initializer"},
               kernel_bias()});
}

/// What the depthwise convolutions (DepthwiseConv1D/2D, and the separable ones) read.
inline std::set<std::string> depthwise() {
  return {"kernel_size", "strides", "padding", "data_format", "depth_multiplier", "dilation_rate", "activation",
          "use_bias", "depthwise_initializer", "bias_initializer", "depthwise_regularizer", "bias_regularizer",
          "activity_regularizer", "depthwise_constraint", "bias_constraint"};
}

/// What the separable convolutions read. tf.keras's SeparableConv2D also writes its unused kernel_*
/// keys (it has no such kernel).
inline std::set<std::string> separable() {
  return join({depthwise(),
               {"filters", "pointwise_initializer", "pointwise_regularizer", "pointwise_constraint",
                "kernel_initializer", "kernel_regularizer", "kernel_constraint", "groups"}});
}

/// groups for the convolutions that have no grouped form here.
inline engine::KeyRule ungrouped() {
  return {"groups", {nullptr, 1}, "grouped convolution is not implemented here"};
}

/// What a recurrent cell reads (implementation and unroll pick a computation order, not the
/// result): SimpleRNNCell, LSTMCell, GRUCell, and the layers over them.
inline std::set<std::string> recurrent_cell() {
  return {"units", "activation", "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
          "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
          "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
          "reset_after", "seed", "implementation"};
}

/// The flags of a recurrent layer over its cell.
inline std::set<std::string> rnn_flags() {
  return {"return_sequences", "return_state", "go_backwards", "stateful", "unroll"};
}

/// What the recurrent layers implement only at Keras's default.
inline std::vector<engine::KeyRule> rnn_rules() {
  return {{"time_major", {false}, "lamina's recurrent layers read (batch, steps, features)"},
          {"zero_output_for_mask", {false},
           "masked steps repeat the previous output (Keras's default; Bidirectional zeroes them itself)"}};
}

/// The keys of a layer with beta and gamma (BatchNormalization, LayerNormalization,
/// GroupNormalization).
inline std::set<std::string> beta_gamma() {
  return {"axis", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer", "beta_regularizer",
          "gamma_regularizer", "beta_constraint", "gamma_constraint"};
}

/// data_format for the layers over steps that Keras gives none (Cropping1D, UpSampling1D,
/// SpatialDropout1D); the other spatial layers honour it.
inline engine::KeyRule steps_only() {
  return {"data_format", {nullptr, "channels_last"},
          "Keras's layer has no data_format: its input is (batch, steps, channels)"};
}

/// Keras 3's quantized and LoRA variants (Dense, Embedding), neither implemented.
inline std::vector<engine::KeyRule> no_quantization() {
  return {{"quantization_config", {nullptr}, "quantized layers are not implemented"},
          {"lora_rank", {nullptr}, "LoRA is not implemented"}};
}

}  // namespace lamina::layers::keys
