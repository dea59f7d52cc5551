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
  return join({{"filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "activation", "use_bias",
                "kernel_initializer", "bias_initializer"},
               kernel_bias()});
}

/// data_format for the spatial layers, which compute on channels_last (NHWC) inputs only.
inline engine::KeyRule channels_last() {
  return {"data_format", {nullptr, "channels_last"},
          "lamina's spatial layers compute on channels_last (NHWC) inputs only"};
}

/// Keras 3's quantized and LoRA variants (Dense, Embedding), neither implemented.
inline std::vector<engine::KeyRule> no_quantization() {
  return {{"quantization_config", {nullptr}, "quantized layers are not implemented"},
          {"lora_rank", {nullptr}, "LoRA is not implemented"}};
}

}  // namespace lamina::layers::keys
