// SPDX-License-Identifier: Apache-2.0
// The catalogue of built-in layer classes: every family registers its specs here, once, the first
// time the layer registry is asked for anything (engine/layer_spec.cpp calls register_catalogue).
#include "catalogue.hpp"

namespace lamina::layers {

void register_catalogue() {
  register_activation_layers();
  register_activity_regularization_layers();
  register_attention_layers();
  register_conv_layers();
  register_conv3d_layers();
  register_conv_lstm_layers();
  register_conv_transpose_layers();
  register_core_layers();
  register_depthwise_conv_layers();
  register_depthwise_conv1d_layers();
  register_einsum_dense_layers();
  register_embedding_layers();
  register_group_normalization_layers();
  register_locally_connected_layers();
  register_masking_layers();
  register_merge_layers();
  register_multi_head_attention_layers();
  register_noise_layers();
  register_normalization_layers();
  register_pooling_layers();
  register_pooling3d_layers();
  register_preprocessing_image_layers();
  register_preprocessing_numeric_layers();
  register_recurrent_layers();
  register_reshaping_layers();
  register_reshaping3d_layers();
  register_wrapper_layers();
}

}  // namespace lamina::layers
