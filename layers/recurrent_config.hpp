// SPDX-License-Identifier: Apache-2.0
// layers/recurrent_config.hpp — reading the recurrent arguments of a Keras config, shared by the
// recurrent layers and ConvLSTM. Private to layers/.
#pragma once

#include <nlohmann/json.hpp>

#include "lamina/layers/recurrent.hpp"

namespace lamina::layers {

/// The RecurrentOptions of a SimpleRNN / LSTM / GRU / RNN / ConvLSTM config (Keras's defaults for
/// absent keys). Throws ValueError for an unknown activation, initializer, regularizer or constraint.
RecurrentOptions recurrent_options_of(const nlohmann::json& config);

}  // namespace lamina::layers
